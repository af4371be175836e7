"""Shapes of the administrator's policy routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from archive.policy.publish import NOTE_MAX


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=NOTE_MAX, description="Why; kept with the release and in its audit event.")


class ReleaseOut(BaseModel):
    version: str = Field(description="Short SHA-256 of the released policy files.")
    released_at: datetime
    released_by: str = Field(description="Username, or the OS user of the command line.")
    note: str


class WarningOut(BaseModel):
    where: str
    message: str


class ReleasedOut(ReleaseOut):
    warnings: list[WarningOut] = Field(description="What `archive policy check` warns about; not refused.")


class PolicyStateOut(BaseModel):
    directory: str = Field(description="The policy directory of this process (`ARCHIVE_POLICY_DIR`).")
    files_version: str = Field(description="Version of the files in that directory now.")
    loaded_version: str = Field(description="Version this process decides with.")
    released: ReleaseOut | None = Field(description="The newest release; null when none was made.")
    current: bool = Field(description="This process decides with the newest release (or none was made).")
    files_released: bool = Field(description="The files here are the newest release (or none was made).")
    poll_seconds: float = Field(description="How often each process looks for a newer release.")
