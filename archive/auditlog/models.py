"""The access log's tables, as this area reads them. They belong to the `audit/` library
(audit/tables.py: events, chain, customer links, checkpoints; append-only by trigger) and are
created by the archive's migrations; nothing here adds a table."""

from __future__ import annotations

from audit.tables import chain, checkpoints, event_customers, events

__all__ = ["chain", "checkpoints", "event_customers", "events"]
