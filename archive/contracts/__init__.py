"""Contracts: numbered per department and year, the ledger, and the hand-over steps (DOMAIN.md)."""
