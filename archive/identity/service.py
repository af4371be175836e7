"""Identity rules: who may sign in, with which roles; staff and departments management."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from archive.db import utcnow
from archive.errors import AuthenticationFailed, Conflict, FieldError, InvalidInput, NotFound
from archive.identity.models import Department, User, UserRole
from archive.identity.passwords import Passwords
from archive.identity.principal import Principal
from archive.identity.repository import IdentityRepository
from archive.identity.tokens import TokenClaims
from archive.vocabulary import Role

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


class IdentityService:
    def __init__(self, repo: IdentityRepository, passwords: Passwords) -> None:
        self.repo = repo
        self.passwords = passwords

    # --- sign-in -------------------------------------------------------------------------
    def authenticate(self, username: str, password: str) -> User:
        """The user whose password this is; the same failure for unknown, wrong and disabled."""
        user = self.repo.user_by_username(username)
        ok = self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok or user.disabled:
            raise AuthenticationFailed(BAD_CREDENTIALS)
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = self.passwords.hash(password)
        user.last_login_at = utcnow()
        self.repo.session.flush()
        return user

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
