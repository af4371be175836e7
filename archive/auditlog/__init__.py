"""The compliance officer's view of the access log: search, shortcuts, verify, checkpoints."""
