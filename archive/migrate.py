"""Schema migrations for the rest of the code: upgrade, the revisions, and why a database must
not be served yet. The work is done in archive/migrations/runner.py, beside the migrations."""

from archive.migrations.runner import current_revision, head_revision, schema_problem, upgrade

__all__ = ["current_revision", "head_revision", "schema_problem", "upgrade"]
