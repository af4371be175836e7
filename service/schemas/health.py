"""Shapes of the operations routes: liveness and readiness."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class PolicyHealthOut(BaseModel):
    version: str = Field(description="The policy version this process decides with.")
    current: bool = Field(description="This process decides with the newest release (or none was made).")
    release_table_readable: bool = Field(description="The last look for a newer release could read it.")


class ReadyOut(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, str] = Field(description="Each check (database, migrations, audit_log, keys) and `ok`.")
    policy: PolicyHealthOut = Field(description="Reported, not required: a process that could not switch to "
                                                "the newest release still decides with the policy it holds.")
