"""The administrator's policy calls: which policy is in force, and releasing the files."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from archive.policy.models import Release
from archive.policy.service import PolicyService
from service.deps import Audit, Context, PolicyAdmin, Uow
from service.schemas.common import problem_responses
from service.schemas.policy import PolicyStateOut, ReleasedOut, ReleaseIn, ReleaseOut, WarningOut

router = APIRouter(prefix="/api/v1/admin/policy", tags=["admin"])


def _out(release: Release) -> ReleaseOut:
    return ReleaseOut(version=release.version, released_at=release.released_at, released_by=release.released_by,
                      note=release.note)


@router.get("", response_model=PolicyStateOut, summary="The policy in force (admin)", responses=problem_responses(403),
            description="The version of the policy files on this host, the version the answering process "
            "decides with, and the newest release. Each process of a deployment answers for itself; "
            "after a release every process follows within `poll_seconds`.")
def policy_state(request: Request, _admin: PolicyAdmin, ctx: Context, uow: Uow) -> PolicyStateOut:
    state = PolicyService(uow, ctx.policy).state()
    watcher = getattr(request.app.state, "policy_watcher", None)
    return PolicyStateOut(
        directory=str(state.directory), files_version=state.files_version, loaded_version=state.loaded_version,
        released=_out(state.released) if state.released else None, current=state.current,
        files_released=state.files_released,
        poll_seconds=watcher.interval if watcher else ctx.settings.policy.policy_poll_seconds,
    )


@router.post("/releases", response_model=ReleasedOut, status_code=status.HTTP_201_CREATED,
             summary="Release the policy files (admin)", responses=problem_responses(403, 409),
             description="Checks the policy files on this host as `archive policy check` does and records their "
             "version as the policy in force, audited as `policy.released`. Every serving process reloads "
             "within its poll interval, without a restart. 422 lists the errors (nothing is released); "
             "409 when the files are already the released policy.")
def release(body: ReleaseIn, _admin: PolicyAdmin, ctx: Context, uow: Uow, audit: Audit) -> ReleasedOut:
    released, warnings = PolicyService(uow, ctx.policy).release(audit, note=body.note)
    return ReleasedOut(**_out(released).model_dump(),
                       warnings=[WarningOut(where=f"{w.file}:{w.line}" if w.line else w.file, message=w.message)
                                 for w in warnings])
