"""Readiness rules: what `/readyz` checks, each reported and none raised.

The database check writes a scratch row and reads it back in a unit of work (never the chained
access log); whether the log itself takes events is asked without writing one."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from archive.db import UnitOfWork, utcnow
from archive.health.repository import ProbeRepository
from archive.keyfiles import CheckpointKeys
from archive.migrate import schema_problem
from audit import log as audit_log
from crypto.keyring import KeyRing

OK = "ok"


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: Mapping[str, str]  # check -> "ok" or what is wrong (a kind of error, never its text)

    @property
    def ready(self) -> bool:
        return all(v == OK for v in self.checks.values())

    @property
    def problems(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.checks.items() if v != OK)


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


class ReadinessService:
    def __init__(self, uow: UnitOfWork, engine: Engine, key_ring: KeyRing, checkpoint_keys: CheckpointKeys) -> None:
        self.uow = uow
        self.engine = engine
        self.key_ring = key_ring
        self.checkpoint_keys = checkpoint_keys

    def check(self, *, sequencer_healthy: bool = True) -> Readiness:
        checks: dict[str, str] = {}
        try:
            migrations = schema_problem(self.engine) or OK
        except Exception as exc:  # readiness reports, it does not raise
            return Readiness({"database": f"unreachable ({type(exc).__name__})"})
        checks["database"], checks["migrations"] = OK, migrations
        if migrations == OK:
            checks["database"], checks["audit_log"] = self._write_and_read()
        checks["keys"] = self._keys()
        if not sequencer_healthy:
            checks["audit_chain"] = "sequencer failing"
        return Readiness(checks)

    def _write_and_read(self) -> tuple[str, str]:
        """(database, audit_log): a scratch row written and read back in one unit of work."""
        try:
            with self.uow:
                probes = ProbeRepository(self.uow.session)
                probe = probes.write(process_name(), utcnow())
                read_back = probes.checked_at(probe) is not None
                log_ok = audit_log.writable(self.uow.session.connection())
        except Exception as exc:
            return f"not writable ({type(exc).__name__})", "unknown"
        return (OK if read_back else "a row written was not read back"), (OK if log_ok else "not writable")

    def _keys(self) -> str:
        try:
            self.key_ring.provider.active_version()
            _ = self.checkpoint_keys.active
        except Exception as exc:
            return f"unavailable ({type(exc).__name__})"
        return OK
