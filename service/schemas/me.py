"""Shapes of the customer's own routes (`/api/v1/me`)."""

from __future__ import annotations

from service.schemas.customers import CustomerOut


class MyRecordOut(CustomerOut):
    """Your own record: everything the archive holds on you, decrypted for you alone."""
