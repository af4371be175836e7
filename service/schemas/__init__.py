"""HTTP request and response shapes (the public contract in API.md), one module per resource.
Routers import from the resource's module; `common` holds the page and problem shapes."""

from service.schemas.common import Page, problem_responses
from service.schemas.identity import DepartmentIn, DepartmentOut, TokenOut, UserIn, UserOut, UserPatch

__all__ = ["DepartmentIn", "DepartmentOut", "Page", "TokenOut", "UserIn", "UserOut", "UserPatch",
           "problem_responses"]
