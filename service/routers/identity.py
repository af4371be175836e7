"""The signed-in user, and the administrator's users and departments calls."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from archive.identity.models import User
from archive.identity.service import NewUser
from audit.events import AuditAction
from service.deps import AdminPrincipal, Audit, CurrentPrincipal, Identity, Uow
from service.schemas import DepartmentIn, DepartmentOut, Page, UserIn, UserOut, UserPatch

router = APIRouter(prefix="/api/v1", tags=["identity"])


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id, username=user.username, display_name=user.display_name, kind=user.kind,
        roles=user.roles, department=user.department.code if user.department else None,
        disabled=user.disabled, created_at=user.created_at, last_login_at=user.last_login_at,
    )


@router.get("/users/me", response_model=UserOut, summary="The signed-in user")
def me(principal: CurrentPrincipal, identity: Identity) -> UserOut:
    return user_out(identity.get_user(principal.id))


@router.get("/users", response_model=Page[UserOut], summary="List users (admin)")
def list_users(
    _admin: AdminPrincipal,
    identity: Identity,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64, description="The last username of the previous page.")] = None,
) -> Page[UserOut]:
    users = identity.users(limit=limit + 1, after=cursor)
    page = [user_out(u) for u in users[:limit]]
    return Page(items=page, next_cursor=page[-1].username if len(users) > limit else None)


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="Add a user (admin)")
def add_user(body: UserIn, _admin: AdminPrincipal, identity: Identity, uow: Uow, audit: Audit) -> UserOut:
    user = identity.add_user(NewUser(
        username=body.username, display_name=body.display_name, password=body.password, roles=body.roles,
        department_code=body.department, kind=body.kind, customer_id=body.customer_id,
    ))
    audit.record(uow.session, AuditAction.USER_CREATED, resource_type="user", resource_id=str(user.id))
    uow.commit()
    return user_out(user)


@router.patch("/users/{user_id}", response_model=UserOut, summary="Change roles, department, password or disable")
def patch_user(
    user_id: uuid.UUID, body: UserPatch, _admin: AdminPrincipal, identity: Identity, uow: Uow, audit: Audit
) -> UserOut:
    user = identity.get_user(user_id)
    fields = body.model_fields_set
    if "department" in fields:
        user = identity.set_department(user, body.department)
    if body.roles is not None:
        user = identity.set_roles(user, body.roles)
    if body.disabled is not None:
        user = identity.set_disabled(user, body.disabled)
    if body.password is not None:
        identity.set_password(user, body.password)
    audit.record(uow.session, AuditAction.USER_CHANGED, resource_type="user", resource_id=str(user_id),
                 fields=tuple(sorted(fields)))
    uow.commit()
    return user_out(identity.get_user(user_id))


@router.post("/users/{user_id}/revoke-sessions", response_model=UserOut,
             summary="Revoke every token the user holds (admin)")
def revoke_sessions(user_id: uuid.UUID, _admin: AdminPrincipal, identity: Identity, uow: Uow,
                    audit: Audit) -> UserOut:
    user = identity.revoke_sessions(identity.get_user(user_id))
    audit.record(uow.session, AuditAction.USER_SESSIONS_REVOKED, resource_type="user", resource_id=str(user_id))
    uow.commit()
    return user_out(user)


@router.get("/departments", response_model=Page[DepartmentOut], summary="List departments (admin)")
def list_departments(_admin: AdminPrincipal, identity: Identity) -> Page[DepartmentOut]:
    return Page(items=[DepartmentOut(id=d.id, code=d.code, name=d.name) for d in identity.departments()],
                next_cursor=None)


@router.post("/departments", response_model=DepartmentOut, status_code=status.HTTP_201_CREATED,
             summary="Add a department (admin)")
def add_department(body: DepartmentIn, _admin: AdminPrincipal, identity: Identity, uow: Uow,
                   audit: Audit) -> DepartmentOut:
    department = identity.add_department(body.code, body.name)
    audit.record(uow.session, AuditAction.DEPARTMENT_CREATED, resource_type="department",
                 resource_id=str(department.id))
    uow.commit()
    return DepartmentOut(id=department.id, code=department.code, name=department.name)
