"""Imports every model module, so `Base.metadata` knows every table (for Alembic)."""

from archive import datakeys as data_key_models
from archive.breakglass import models as break_glass_models
from archive.contracts import models as contract_models
from archive.customers import models as customer_models
from archive.documents import models as document_models
from archive.health import models as health_models
from archive.identity import models as identity_models
from archive.jobs import models as job_models
from archive.policy import models as policy_release_models

__all__ = [
    "break_glass_models", "contract_models", "customer_models", "data_key_models", "document_models", "health_models",
    "identity_models", "job_models", "policy_release_models",
]
