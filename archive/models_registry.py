"""Imports every model module, so `Base.metadata` knows every table (for Alembic)."""

from archive.identity import models as identity_models
from archive.jobs import models as job_models

__all__ = ["identity_models", "job_models"]
