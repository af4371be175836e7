"""Readiness: whether this process can do its work now (database, schema, keys, access log)."""
