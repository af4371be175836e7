"""Break-glass: a compliance officer's emergency access to one customer (DOMAIN.md)."""
