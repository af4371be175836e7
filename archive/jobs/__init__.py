"""Scheduled jobs: registered here, run only by `archive worker` (one leader per deployment)."""
