"""Shapes of the identity routes: tokens, users, departments."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type)
    expires_in: int = Field(description="Seconds until the token expires.")


class DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32, description="Short code people use, e.g. `SALES`.")
    name: str = Field(min_length=1, max_length=200)


class DepartmentOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    kind: str = Field(description="`staff` or `customer`.")
    roles: list[str]
    department: str | None = Field(description="Department code.")
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    display_name: str = Field("", max_length=200)
    password: str = Field(min_length=10, max_length=1024, description="At least 10 characters.")
    roles: list[str] = Field(min_length=1, description="Role ids from the vocabulary (DOMAIN.md).")
    department: str | None = Field(None, description="Department code.")
    kind: str = Field("staff", pattern="^(staff|customer)$")
    customer_id: uuid.UUID | None = Field(None, description="For a customer login: the customer it speaks for.")


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[str] | None = None
    department: str | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=10, max_length=1024)
