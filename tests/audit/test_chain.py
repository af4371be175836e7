"""The chain: append, integrate, verify — and every kind of tampering an attacker with table
access could try, each detected with the first bad sequence number and its kind."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from audit import checkpoints
from audit.chain import integrate_batch
from audit.events import Actor, ActorKind, AuditAction, Decision, EventDraft
from audit.log import append
from audit.verify import verify

ALICE = Actor(ActorKind.USER, str(uuid.uuid4()), "alice", ("sales_rep",))
CUSTOMERS = [uuid.uuid4() for _ in range(3)]


def draft(i: int, **over) -> EventDraft:
    base = dict(actor=ALICE, action=AuditAction.CUSTOMER_READ, decision=Decision.ALLOWED,
                resource_type="customer", resource_id=str(CUSTOMERS[i % 3]),
                customer_ids=(CUSTOMERS[i % 3],), purpose="sales_followup", fields=("name", "phone"),
                categories=("basic",), reason=f"own customer {i}")
    base.update(over)
    return EventDraft(**base)


def uid(conn, value: uuid.UUID):
    """A UUID as raw SQL binds it: SQLite stores 32 hex digits."""
    return value if conn.dialect.name == "postgresql" else value.hex


def chained(conn, n: int = 10) -> None:
    for i in range(n):
        append(conn, draft(i))
    assert integrate_batch(conn) == n


def disable_triggers(conn) -> None:
    if conn.dialect.name == "postgresql":
        for table in ("audit_events", "audit_chain", "audit_event_customers", "audit_checkpoints"):
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        names = conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE 'audit%'"))
        for (name,) in names.all():
            conn.execute(text(f'DROP TRIGGER "{name}"'))


def damage(conn, keys, **kw):
    report = verify(conn, keys, **kw)
    assert not report.ok, "tampering went undetected"
    first = report.first
    return first.seq, first.kind


def test_an_untouched_chain_verifies(conn, keys):
    chained(conn, 25)
    checkpoints.make(conn, keys)
    report = verify(conn, keys)
    assert report.ok, report.damage
    assert (report.checked, report.head_seq, report.pending, report.checkpoints_checked) == (25, 25, 0, 1)


def test_events_not_yet_chained_are_pending_not_damage(conn, keys):
    chained(conn, 5)
    append(conn, draft(99))
    report = verify(conn, keys)
    assert report.ok and report.pending == 1


def test_customer_links_are_written_with_the_chain(conn):
    chained(conn, 6)
    count = conn.execute(text("SELECT count(*) FROM audit_event_customers WHERE customer_id = :c"),
                         {"c": uid(conn, CUSTOMERS[0])}).scalar()
    assert count == 2


# --- the database refuses changes -------------------------------------------------------------
@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET reason = 'x'",
    "DELETE FROM audit_events",
    "UPDATE audit_chain SET seq = seq + 100",
    "DELETE FROM audit_chain",
    "DELETE FROM audit_event_customers",
    "UPDATE audit_checkpoints SET key_id = 'x'",
])
def test_update_and_delete_are_refused(conn, keys, statement):
    chained(conn, 3)
    checkpoints.make(conn, keys)
    savepoint = conn.begin_nested()
    with pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text(statement))
    savepoint.rollback()


@pytest.mark.parametrize("table", ["audit_events", "audit_chain", "audit_event_customers", "audit_checkpoints"])
def test_truncate_is_refused_on_postgresql(pg_db, table):
    with pg_db.session_factory() as session:
        conn = session.connection()
        chained(conn, 2)
        _truncate_refused(conn, table)


def _truncate_refused(conn, table: str) -> None:
    savepoint = conn.begin_nested()
    with pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text(f"TRUNCATE {table} CASCADE"))
    savepoint.rollback()


# --- the tamper suite (triggers disabled first, as an attacker with table access would) ---------
def nth_event(conn, seq: int) -> uuid.UUID:
    return conn.execute(text("SELECT event_id FROM audit_chain WHERE seq = :s"), {"s": seq}).scalar()


def erase_event(conn, seq: int) -> None:
    """Delete an event with its chain row and links, as an attacker cleaning up would."""
    event = nth_event(conn, seq)
    conn.execute(text("DELETE FROM audit_event_customers WHERE event_id = :i"), {"i": event})
    conn.execute(text("DELETE FROM audit_chain WHERE seq = :s"), {"s": seq})
    conn.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": event})


def test_edit_one_field_of_one_event(conn, keys):
    chained(conn)
    disable_triggers(conn)
    conn.execute(text("UPDATE audit_events SET purpose = 'advisory' WHERE id = :i"), {"i": nth_event(conn, 4)})
    assert damage(conn, keys) == (4, "edited")


def test_delete_one_event_row(conn, keys):
    chained(conn)
    disable_triggers(conn)
    erase_event(conn, 6)
    assert damage(conn, keys) == (6, "deleted")


def test_delete_one_event_but_keep_its_chain_row(conn, keys):
    chained(conn)
    disable_triggers(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_chain DROP CONSTRAINT fk_audit_chain_event_id_audit_events"))
        conn.execute(text("ALTER TABLE audit_event_customers DROP CONSTRAINT "
                          "fk_audit_event_customers_event_id_audit_events"))
    else:
        conn.execute(text("PRAGMA defer_foreign_keys=ON"))  # checked only at commit, which never comes
    event = nth_event(conn, 3)
    conn.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": event})
    assert damage(conn, keys) == (3, "deleted")


def test_insert_a_forged_event(conn, keys):
    chained(conn)
    disable_triggers(conn)
    forged = append(conn, draft(1, reason="forged"))
    # Make room at seq 5 and slot the forgery in with a made-up hash.
    for seq in range(10, 4, -1):
        conn.execute(text("UPDATE audit_chain SET seq = :n WHERE seq = :s"), {"n": seq + 100, "s": seq})
    for seq in range(5, 11):
        conn.execute(text("UPDATE audit_chain SET seq = :n WHERE seq = :s"), {"n": seq + 1, "s": seq + 100})
    conn.execute(text("INSERT INTO audit_chain (seq, event_id, prev_hash, hash, chained_us) "
                      "VALUES (5, :e, :p, :h, 0)"), {"e": uid(conn, forged), "p": b"\x01" * 32, "h": b"\x02" * 32})
    assert damage(conn, keys) == (5, "inserted")


def test_swap_two_events(conn, keys):
    chained(conn)
    disable_triggers(conn)
    conn.execute(text("UPDATE audit_chain SET seq = 1000 WHERE seq = 3"))
    conn.execute(text("UPDATE audit_chain SET seq = 3 WHERE seq = 7"))
    conn.execute(text("UPDATE audit_chain SET seq = 7 WHERE seq = 1000"))
    assert damage(conn, keys) == (3, "reordered")


def test_remove_a_customer_link(conn, keys):
    chained(conn)
    disable_triggers(conn)
    conn.execute(text("DELETE FROM audit_event_customers WHERE event_id = :i"), {"i": nth_event(conn, 2)})
    assert damage(conn, keys) == (2, "links")


def test_add_a_customer_link(conn, keys):
    chained(conn)
    disable_triggers(conn)
    conn.execute(text("INSERT INTO audit_event_customers (event_id, customer_id) VALUES (:e, :c)"),
                 {"e": nth_event(conn, 8), "c": uid(conn, uuid.uuid4())})
    assert damage(conn, keys)[1] == "links"


def test_truncate_the_tail_after_a_checkpoint(conn, keys):
    chained(conn)
    checkpoints.make(conn, keys)
    disable_triggers(conn)
    for seq in (10, 9):
        erase_event(conn, seq)
    assert damage(conn, keys) == (9, "truncated")


def test_replace_the_whole_chain_with_a_recomputed_one(conn, keys):
    """A consistent rewrite passes the chain walk; only the signed checkpoint catches it."""
    chained(conn)
    checkpoints.make(conn, keys)
    disable_triggers(conn)
    conn.execute(text("UPDATE audit_events SET reason = 'nothing to see'"))
    conn.execute(text("DELETE FROM audit_event_customers"))
    conn.execute(text("DELETE FROM audit_chain"))
    assert integrate_batch(conn, full_scan=True) == 10
    assert damage(conn, keys) == (10, "rewritten")


def test_forge_the_checkpoint_too(conn, keys):
    chained(conn)
    checkpoints.make(conn, keys)
    disable_triggers(conn)
    conn.execute(text("UPDATE audit_checkpoints SET hash = :h"), {"h": b"\x07" * 32})
    assert damage(conn, keys) == (10, "forged checkpoint")


def test_an_exported_checkpoint_catches_a_rewrite_of_the_checkpoint_table(conn, keys, tmp_path):
    chained(conn)
    exported = checkpoints.make(conn, keys)
    checkpoints.export(exported, tmp_path / "cp.json")
    disable_triggers(conn)
    conn.execute(text("DELETE FROM audit_checkpoints"))
    conn.execute(text("UPDATE audit_events SET reason = 'rewritten'"))
    conn.execute(text("DELETE FROM audit_event_customers"))
    conn.execute(text("DELETE FROM audit_chain"))
    integrate_batch(conn, full_scan=True)
    assert verify(conn, keys).ok  # nothing inside the database can tell…
    assert damage(conn, keys, against=[checkpoints.load(tmp_path / "cp.json")]) == (10, "rewritten")


def test_a_prepared_event_is_stamped_when_it_is_written(conn) -> None:
    """An import makes its event while its last rows are inserted; the event still carries the
    time (and a fresh id) of its writing, whatever happened in between."""
    from audit.log import append_row, now_us, row_of

    prepared = row_of(draft(1))
    before = now_us()
    written = append_row(conn, prepared)
    row = conn.execute(text("SELECT id, occurred_us FROM audit_events WHERE id = :id"),
                       {"id": uid(conn, written)}).one()
    assert written != prepared["id"]
    assert row.occurred_us >= before >= prepared["occurred_us"]  # type: ignore[operator]
