"""Identity rules: who may sign in, with which roles; staff and departments management.

`IdentityService` holds the rules over an open transaction (the CLI, the demo and tests call
them inside their own unit of work) and, given the request's `UnitOfWork`, the acts the HTTP
routes call: each one transaction with its audit event. Who may manage users and departments
is policy data (`policies/permissions.csv`), checked before a route reaches these acts.

Signing in is two units of work on purpose: the attempt (the account as the database holds it
now) before the password is hashed, and the outcome (the event, the last login, a re-hash)
after — so no transaction, and on SQLite no write lock, is held while Argon2 runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

import structlog

from archive.auditing import Auditor, actor_of
from archive.db import UnitOfWork, utcnow
from archive.errors import AuthenticationFailed, Conflict, FieldError, InvalidInput, NotFound, TooManyAttempts
from archive.identity.models import Department, User, UserRole
from archive.identity.passwords import Passwords
from archive.identity.principal import Principal
from archive.identity.repository import IdentityRepository
from archive.identity.throttle import LoginThrottle
from archive.identity.tokens import TokenClaims, TokenService
from archive.vocabulary import Role
from audit.events import Actor, ActorKind, AuditAction, Decision
from audit.lookup import AuditLookup

log = structlog.get_logger("archive.identity")

# One message for every sign-in failure, so none of them tells which usernames exist.
BAD_CREDENTIALS = "The username or password is incorrect, or the account is disabled."
MIN_PASSWORD_LENGTH = 10


def principal_of(user: User) -> Principal:
    return Principal(
        id=user.id,
        username=user.username,
        kind=user.kind,
        roles=frozenset(user.roles),
        department_id=user.department_id,
        department_code=user.department.code if user.department else None,
        customer_id=user.customer_id,
    )


def validate_roles(roles: Sequence[str], *, kind: str) -> list[str]:
    known = {r.value for r in Role}
    unknown = sorted(set(roles) - known)
    if unknown:
        raise InvalidInput(
            f"Unknown role(s): {', '.join(unknown)}.",
            errors=[FieldError("roles", f"known roles: {', '.join(sorted(known))}")],
        )
    if kind == "customer" and set(roles) != {Role.CUSTOMER.value}:
        raise InvalidInput("A customer login has exactly the role 'customer'.")
    if kind == "staff" and Role.CUSTOMER.value in roles:
        raise InvalidInput("Staff users cannot hold the role 'customer'.")
    return sorted(set(roles))


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    display_name: str
    password: str
    roles: Sequence[str]
    department_code: str | None = None
    kind: str = "staff"
    customer_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class UserChange:
    """What an administrator changes of a user; a field left None stays as it is, except the
    department, which changes whenever `department_given` (None then clears it)."""

    roles: Sequence[str] | None = None
    department_code: str | None = None
    department_given: bool = False
    disabled: bool | None = None
    password: str | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        named = {"roles": self.roles is not None, "department": self.department_given,
                 "disabled": self.disabled is not None, "password": self.password is not None}
        return tuple(sorted(name for name, given in named.items() if given))


@dataclass(frozen=True, slots=True)
class UserPage:
    users: Sequence[User]
    next_cursor: str | None


class IdentityService:
    def __init__(self, repo: IdentityRepository, passwords: Passwords, *, uow: UnitOfWork | None = None) -> None:
        self.repo = repo
        self.passwords = passwords
        self._uow = uow

    @property
    def uow(self) -> UnitOfWork:
        if self._uow is None:
            raise RuntimeError("this act runs its own unit of work: build the service with the request's uow")
        return self._uow

    # --- the administrator's acts (HTTP): one unit of work each, with its event -------------------
    def user_page(self, *, limit: int, after: str | None = None) -> UserPage:
        users = self.users(limit=limit + 1, after=after)
        page = list(users[:limit])
        return UserPage(page, page[-1].username if len(users) > limit else None)

    def create_user(self, new: NewUser, auditor: Auditor) -> User:
        with self.uow:
            user = self.add_user(new)
            auditor.record(self.repo.session, AuditAction.USER_CREATED, resource_type="user", resource_id=str(user.id))
        return user

    def change_user(self, user_id: uuid.UUID, change: UserChange, auditor: Auditor) -> User:
        with self.uow:
            user = self.get_user(user_id)
            if change.department_given:
                user = self.set_department(user, change.department_code)
            if change.roles is not None:
                user = self.set_roles(user, change.roles)
            if change.disabled is not None:
                user = self.set_disabled(user, change.disabled)
            if change.password is not None:
                self.set_password(user, change.password)
            auditor.record(self.repo.session, AuditAction.USER_CHANGED, resource_type="user",
                           resource_id=str(user_id), fields=change.fields)
            return self._reload(user)

    def revoke_user_sessions(self, user_id: uuid.UUID, auditor: Auditor) -> User:
        with self.uow:
            user = self.revoke_sessions(self.get_user(user_id))
            auditor.record(self.repo.session, AuditAction.USER_SESSIONS_REVOKED, resource_type="user",
                           resource_id=str(user_id))
        return user

    def create_department(self, code: str, name: str, auditor: Auditor) -> Department:
        with self.uow:
            department = self.add_department(code, name)
            auditor.record(self.repo.session, AuditAction.DEPARTMENT_CREATED, resource_type="department",
                           resource_id=str(department.id))
        return department

    # --- tokens ----------------------------------------------------------------------------------
    def principal_for_token(self, claims: TokenClaims) -> Principal:
        """The principal a verified token speaks for, if the account still allows it."""
        if claims.external:
            user = self.repo.user_by_username(claims.subject)
        else:
            try:
                user = self.repo.user(uuid.UUID(claims.subject))
            except ValueError as exc:
                raise AuthenticationFailed("The access token is not valid.") from exc
        if user is None or user.disabled:
            raise AuthenticationFailed("The access token is no longer valid.")
        if not claims.external and claims.token_version != user.token_version:
            raise AuthenticationFailed("The access token has been revoked.")
        return principal_of(user)

    # --- departments -----------------------------------------------------------------------
    def add_department(self, code: str, name: str) -> Department:
        code = code.strip().upper()
        if not code or not code.replace("_", "").replace("-", "").isalnum():
            raise InvalidInput("Department code must be letters, digits, '-' or '_'.",
                               errors=[FieldError("code", "letters, digits, '-' or '_'")])
        if self.repo.department_by_code(code):
            raise Conflict(f"Department {code} already exists.")
        department = Department(code=code, name=name.strip() or code)
        self.repo.add(department)
        return department

    def departments(self) -> Sequence[Department]:
        return self.repo.departments()

    # --- users -------------------------------------------------------------------------------
    def add_user(self, new: NewUser) -> User:
        username = new.username.strip()
        if not username or len(username) > 64:
            raise InvalidInput("Username must be 1–64 characters.", errors=[FieldError("username", "1–64 characters")])
        if len(new.password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(
                f"Password must be at least {MIN_PASSWORD_LENGTH} characters.",
                errors=[FieldError("password", f"at least {MIN_PASSWORD_LENGTH} characters")],
            )
        if new.kind not in ("staff", "customer"):
            raise InvalidInput("kind is 'staff' or 'customer'.", errors=[FieldError("kind", "staff or customer")])
        roles = validate_roles(new.roles, kind=new.kind)
        if new.kind == "customer" and new.customer_id is None:
            raise InvalidInput("A customer login is bound to one customer id.",
                               errors=[FieldError("customer_id", "required for a customer login")])
        if self.repo.user_by_username(username):
            raise Conflict(f"Username {username} is taken.")
        department = self._department(new.department_code)
        if Role.DEPARTMENT_HEAD.value in roles and department is None:
            raise InvalidInput("A department head belongs to the department they head.",
                               errors=[FieldError("department", "required for department_head")])
        user = User(
            username=username,
            display_name=new.display_name.strip() or username,
            kind=new.kind,
            department_id=department.id if department else None,
            customer_id=new.customer_id,
            password_hash=self.passwords.hash(new.password),
            role_rows=[UserRole(role=r) for r in roles],
        )
        self.repo.add(user)
        return self.get_user(user.id)

    def _department(self, code: str | None) -> Department | None:
        if code is None:
            return None
        department = self.repo.department_by_code(code.strip().upper())
        if department is None:
            raise InvalidInput(f"Unknown department {code}.", errors=[FieldError("department", "unknown code")])
        return department

    def get_user(self, user_id: uuid.UUID) -> User:
        user = self.repo.user(user_id)
        if user is None:
            raise NotFound("No such user.")
        return user

    def user_by_username(self, username: str) -> User:
        user = self.repo.user_by_username(username)
        if user is None:
            raise NotFound(f"No user named {username}.")
        return user

    def users(self, *, limit: int, after: str | None = None) -> Sequence[User]:
        return self.repo.users(limit=limit, after=after)

    def set_roles(self, user: User, roles: Sequence[str]) -> User:
        wanted = validate_roles(roles, kind=user.kind)
        if Role.DEPARTMENT_HEAD.value in wanted and user.department_id is None:
            raise InvalidInput("A department head belongs to the department they head.")
        user.role_rows = [row for row in user.role_rows if row.role in wanted] + [
            UserRole(role=r) for r in wanted if r not in user.roles
        ]
        # Roles are in the token: old tokens must not keep the old roles.
        self.repo.bump_token_version(user.id)
        self.repo.session.flush()
        return self._reload(user)

    def set_department(self, user: User, code: str | None) -> User:
        department = self._department(code)
        user.department_id = department.id if department else None
        self.repo.bump_token_version(user.id)
        self.repo.session.flush()
        return self._reload(user)

    def set_disabled(self, user: User, disabled: bool) -> User:
        user.disabled = disabled
        self.repo.bump_token_version(user.id)
        self.repo.session.flush()
        return self._reload(user)

    def set_password(self, user: User, password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.")
        user.password_hash = self.passwords.hash(password)
        self.repo.bump_token_version(user.id)
        self.repo.session.flush()

    def revoke_sessions(self, user: User) -> User:
        """Every token issued so far stops working: one update of the token version."""
        self.repo.bump_token_version(user.id)
        self.repo.session.flush()
        return self._reload(user)

    def _reload(self, user: User) -> User:
        self.repo.session.expire(user)
        return self.get_user(user.id)


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    username: str
    password: str
    client_address: str
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class SignedIn:
    user_id: uuid.UUID
    access_token: str
    expires_in: int


class SignInService:
    """The password sign-in: throttled, the same failure for unknown, wrong and disabled, every
    attempt audited (a failed one names the attempted username only by its keyed hash)."""

    def __init__(self, uow: UnitOfWork, passwords: Passwords, throttle: LoginThrottle, tokens: TokenService,
                 lookup: AuditLookup, *, policy_version: str) -> None:
        self.uow = uow
        self.repo = IdentityRepository(uow.session)
        self.passwords = passwords
        self.throttle = throttle
        self.tokens = tokens
        self.lookup = lookup
        self.policy_version = policy_version

    def sign_in(self, attempt: LoginAttempt) -> SignedIn:
        try:
            self.throttle.check(attempt.username, attempt.client_address)
        except TooManyAttempts:
            log.warning("auth.login.throttled", client=attempt.client_address)
            raise
        with self.uow:  # the attempt: the account as the database holds it now
            user = self.repo.user_by_username(attempt.username)
            stored = None if user is None or user.disabled else user.password_hash
            user_id = user.id if user is not None else None
        # Argon2 outside any transaction: an unknown user costs a verification all the same.
        ok = self.passwords.verify(stored, attempt.password)
        rehashed = self.passwords.hash(attempt.password) if ok and stored and self.passwords.needs_rehash(stored) \
            else None
        if not ok or user_id is None:
            self._failed(attempt)
        with self.uow:  # the outcome, with its event
            signed = self._succeeded(user_id, stored, rehashed, attempt)
        if signed is None:  # disabled or given a new password meanwhile
            self._failed(attempt)
        log.info("auth.login", user_id=str(signed.user_id))
        return signed

    def _succeeded(self, user_id: uuid.UUID, stored: str | None, rehashed: str | None,
                   attempt: LoginAttempt) -> SignedIn | None:
        self.repo.session.expire_all()  # the account as it is now, not as the attempt read it
        user = self.repo.user(user_id)
        if user is None or user.disabled or user.password_hash != stored:
            return None
        if rehashed is not None:
            user.password_hash = rehashed
        user.last_login_at = utcnow()
        self.repo.session.flush()
        token, expires_in = self.tokens.issue(subject=str(user.id), token_version=user.token_version, roles=user.roles)
        self._auditor(actor_of(principal_of(user)), attempt).record(
            self.repo.session, AuditAction.AUTH_LOGIN, resource_type="user", resource_id=str(user.id))
        return SignedIn(user.id, token, expires_in)

    def _failed(self, attempt: LoginAttempt) -> NoReturn:
        """Count the failure, record it (its own unit of work) and refuse."""
        self.throttle.failed(attempt.username, attempt.client_address)
        log.info("auth.login.failed", client=attempt.client_address)
        with self.uow:
            # The attempted username is identifying: the log keeps only its keyed hash.
            self._auditor(Actor(ActorKind.USER, "", ""), attempt).record(
                self.repo.session, AuditAction.AUTH_LOGIN_FAILED, Decision.DENIED,
                reason="wrong credentials, unknown user or disabled account",
                lookup_hmacs=(self.lookup.token("username", attempt.username),))
        raise AuthenticationFailed(BAD_CREDENTIALS)

    def _auditor(self, actor: Actor, attempt: LoginAttempt) -> Auditor:
        return Auditor(actor, attempt.request_id, attempt.client_address, policy_version=self.policy_version)
