"""The audit tables, as SQLAlchemy Core tables on their own metadata (the archive's
migrations create them; this package does not import the archive).

- `audit_events`: one row per event, inserted in the same transaction as the act.
- `audit_chain`: one row per integrated event: its sequence number and hash, written by the
  sequencer. `UNIQUE(seq)`, `UNIQUE(event_id)` and `UNIQUE(prev_hash)` make a fork impossible.
- `audit_event_customers`: who-touched-whom links, written with the chain row.
- `audit_checkpoints`: signed heads.
Every one of them refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) by trigger.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

events = Table(
    "audit_events",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("format", Integer, nullable=False),
    Column("occurred_us", BigInteger, nullable=False),  # UTC microseconds: exact on both databases
    Column("actor_kind", String(16), nullable=False),
    Column("actor_id", String(200), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("actor_roles", String(500), nullable=False),
    Column("action", String(64), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", String(200), nullable=False),
    Column("customer_ids", Text, nullable=False),  # space-separated UUIDs, part of the hash
    Column("purpose", String(64), nullable=False),
    Column("categories", String(200), nullable=False),
    Column("fields", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("policy_rule", String(500), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("client_address", String(64), nullable=False),
    Column("lookup_hmacs", Text, nullable=False),
    Column("break_glass", Boolean, nullable=False),
    Column("extra", Text, nullable=False),  # canonical JSON of small, non-sensitive details
    Index("ix_audit_events_occurred_us", "occurred_us"),
    Index("ix_audit_events_actor_id", "actor_id"),
)

chain = Table(
    "audit_chain",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", Uuid, ForeignKey("audit_events.id"), nullable=False, unique=True),
    Column("prev_hash", LargeBinary(32), nullable=False, unique=True),
    Column("hash", LargeBinary(32), nullable=False),
    Column("chained_us", BigInteger, nullable=False),
)

event_customers = Table(
    "audit_event_customers",
    metadata,
    Column("event_id", Uuid, ForeignKey("audit_events.id"), primary_key=True),
    Column("customer_id", Uuid, primary_key=True),
    Index("ix_audit_event_customers_customer_id", "customer_id"),
)

checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("made_us", BigInteger, nullable=False),
    Column("key_id", String(100), nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

APPEND_ONLY = ("audit_events", "audit_chain", "audit_event_customers", "audit_checkpoints")
