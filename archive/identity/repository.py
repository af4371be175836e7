"""Queries for departments and users; nothing else in the code base touches these tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from archive.identity.models import Department, User


class IdentityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def department_by_code(self, code: str) -> Department | None:
        return self.session.scalar(select(Department).where(Department.code == code))

    def department(self, department_id: uuid.UUID) -> Department | None:
        return self.session.get(Department, department_id)

    def departments(self) -> Sequence[Department]:
        return self.session.scalars(select(Department).order_by(Department.code)).all()

    def add(self, obj: Department | User) -> None:
        self.session.add(obj)
        self.session.flush()

    def _users(self) -> Select[User]:
        return select(User).options(selectinload(User.role_rows), selectinload(User.department))

    def _one_user(self) -> Select[User]:
        """One round trip for a user with department and roles (every request loads its caller)."""
        return select(User).options(joinedload(User.role_rows), joinedload(User.department))

    def user_by_username(self, username: str) -> User | None:
        return self.session.scalars(self._one_user().where(User.username == username)).unique().first()

    def user(self, user_id: uuid.UUID) -> User | None:
        return self.session.scalars(self._one_user().where(User.id == user_id)).unique().first()

    def users(self, *, limit: int, after: str | None = None) -> Sequence[User]:
        query = self._users().order_by(User.username).limit(limit)
        if after is not None:
            query = query.where(User.username > after)
        return self.session.scalars(query).all()

    def bump_token_version(self, user_id: uuid.UUID) -> None:
        self.session.execute(
            update(User).where(User.id == user_id).values(token_version=User.token_version + 1)
        )
