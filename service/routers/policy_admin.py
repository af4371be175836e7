"""The administrator's policy calls: which policy is in force, and releasing the files."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from archive.policy.publish import NOTE_MAX, Release, policy_status, release_policy
from service.deps import AdminPrincipal, Audit, Context, Uow

router = APIRouter(prefix="/api/v1/admin/policy", tags=["admin"])


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


def _out(release: Release) -> ReleaseOut:
    return ReleaseOut(version=release.version, released_at=release.released_at, released_by=release.released_by,
                      note=release.note)


@router.get("", response_model=PolicyStateOut, summary="The policy in force (admin)",
            description="The version of the policy files on this host, the version the answering process "
            "decides with, and the newest release. Each process of a deployment answers for itself; "
            "after a release every process follows within `poll_seconds`.")
def policy_state(request: Request, _admin: AdminPrincipal, ctx: Context, uow: Uow) -> PolicyStateOut:
    state = policy_status(uow.session, ctx.policy.path)
    released = state.released
    watcher = getattr(request.app.state, "policy_watcher", None)
    return PolicyStateOut(
        directory=str(ctx.policy.path), files_version=state.files_version, loaded_version=ctx.policy.version,
        released=_out(released) if released else None,
        current=released is None or released.version == ctx.policy.version,
        files_released=state.files_released,
        poll_seconds=watcher.interval if watcher else ctx.settings.policy.policy_poll_seconds,
    )


@router.post("/releases", response_model=ReleasedOut, status_code=status.HTTP_201_CREATED,
             summary="Release the policy files (admin)",
             description="Checks the policy files on this host as `archive policy check` does and records their "
             "version as the policy in force, audited as `policy.released`. Every serving process reloads "
             "within its poll interval, without a restart. 422 lists the errors (nothing is released); "
             "409 when the files are already the released policy.")
def release(body: ReleaseIn, _admin: AdminPrincipal, ctx: Context, uow: Uow, audit: Audit) -> ReleasedOut:
    released, warnings = release_policy(uow.session, ctx.policy.path, audit, note=body.note)
    uow.commit()
    return ReleasedOut(**_out(released).model_dump(),
                       warnings=[WarningOut(where=f"{w.file}:{w.line}" if w.line else w.file, message=w.message)
                                 for w in warnings])
