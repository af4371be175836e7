"""Concurrent appends on PostgreSQL while the sequencer runs: no fork, no gap, no duplicate."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import text

from audit.chain import SequencerThread, integrate
from audit.events import Actor, ActorKind, AuditAction, Decision, EventDraft
from audit.log import append
from audit.verify import verify

WRITERS, EACH = 8, 1000


def test_eight_writers_append_a_thousand_events_each(committed_pg_engine, keys):
    engine = committed_pg_engine
    sequencer = SequencerThread(engine, interval=0.05)
    sequencer.start()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        actor = Actor(ActorKind.USER, str(uuid.uuid4()), f"writer{n}", ("sales_rep",))
        try:
            for i in range(EACH):
                with engine.begin() as conn:  # one committed transaction per event, as a request
                    append(conn, EventDraft(actor=actor, action=AuditAction.CUSTOMER_READ,
                                            decision=Decision.ALLOWED, resource_id=str(i),
                                            customer_ids=(uuid.uuid4(),)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sequencer.stop()
    integrate(engine, full_scan=True)
    assert not errors
    with engine.connect() as conn:
        report = verify(conn, keys)
        seqs = conn.execute(text("SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM audit_chain")).one()
        links = conn.execute(text("SELECT count(*) FROM audit_event_customers")).scalar()
    assert report.ok, report.damage
    assert report.pending == 0
    assert tuple(seqs) == (WRITERS * EACH, WRITERS * EACH, 1, WRITERS * EACH)
    assert links == WRITERS * EACH
