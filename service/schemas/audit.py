"""Shapes of the access-log routes (the compliance officer's view)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class EventOut(BaseModel):
    id: uuid.UUID
    seq: int | None = Field(description="Position in the hash chain; null while pending (≤ 1 s).")
    occurred_at: datetime
    actor_kind: str
    actor_id: str
    actor_name: str
    actor_roles: list[str]
    action: str
    decision: Literal["allowed", "denied"]
    resource_type: str
    resource_id: str
    customer_ids: list[str]
    purpose: str
    categories: list[str]
    fields: list[str]
    reason: str
    policy_rule: str
    policy_version: str
    request_id: str
    client_address: str
    break_glass: bool


class VerifyOut(BaseModel):
    ok: bool = Field(description="The chain and every checkpoint signature verify.")
    checked: int = Field(description="Chained events checked.")
    head_seq: int
    head_hash: str = Field(description="Hex SHA-256 of the newest chained event.")
    pending: int = Field(description="Events not yet chained.")
    checkpoints_checked: int
    first_bad_seq: int | None = Field(description="The first damaged sequence number; null when intact.")
    damage: str | None = Field(description="What kind of damage was found there.")
    detail: str | None


class CheckpointOut(BaseModel):
    seq: int
    hash: str = Field(description="Hex SHA-256 of the chain head at `seq`.")
    made_us: int = Field(description="When it was signed, in microseconds since the epoch.")
    key_id: str = Field(description="The checkpoint key that signed it (see /api/v1/audit/public-keys).")
    signature: str = Field(description="Base64 Ed25519 signature.")
    format: str


class UnusualOut(BaseModel):
    actor_id: str
    actor_name: str
    hour_start: datetime
    customers: int = Field(description="Distinct customers touched in that hour.")


class LookupIn(BaseModel):
    kind: Literal["id_number", "tax_number", "phone", "email", "username"]
    value: str = Field(min_length=1, max_length=200)


class LookupOut(BaseModel):
    appears: bool
    event_ids: list[uuid.UUID] = Field(description="Events naming the value (by its keyed hash), newest first.")
