"""The bench-only app for bench/read_path.py: the product app (same ASGI server, middleware,
bearer-token authentication and connection pool) plus one route that reads a customer row as
stored — no policy or scope decision, no decryption or masking, no audit event. It exists only
here, never in the product (`service/` does not import it)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from archive.customers.models import Customer
from service.app import create_app_from_env
from service.deps import CurrentPrincipal, Uow


def create() -> FastAPI:
    app = create_app_from_env()

    @app.get("/bench/bare/customers/{customer_id}", include_in_schema=False)
    def bare(customer_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow) -> dict[str, Any]:
        row = uow.session.execute(select(Customer.__table__).where(Customer.id == customer_id)).mappings().one()
        return {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in row.items()}

    return app
