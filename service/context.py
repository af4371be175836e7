"""What one process needs to serve: settings, database, passwords, tokens, throttle, and the
one governance gate (which alone holds the grant authority the key ring trusts). Built once per
process (`AppContext.from_settings`) and kept on `app.state.ctx`; the per-request services
(service/deps.py) are made from it."""

from __future__ import annotations

from dataclasses import dataclass

from archive import keyfiles
from archive.blobs import BlobStore, blob_store_from
from archive.customers.importing import CustomerImporter
from archive.datakeys import SqlKeyStore
from archive.db import Database
from archive.gate import Gate
from archive.identity.names import Names
from archive.identity.passwords import Passwords
from archive.identity.throttle import LoginThrottle
from archive.identity.tokens import OidcVerifier, TokenService
from archive.keyfiles import CheckpointKeys
from archive.policy import PolicyEngine
from archive.settings import Settings
from audit.lookup import AuditLookup
from crypto.blind_index import BlindIndex
from crypto.keyring import KeyRing
from crypto.keys import LocalKeyProvider, generate_local_keys


@dataclass
class AppContext:
    settings: Settings
    db: Database
    passwords: Passwords
    tokens: TokenService
    throttle: LoginThrottle
    audit_lookup: AuditLookup
    checkpoint_keys: CheckpointKeys
    policy: PolicyEngine
    key_ring: KeyRing
    blind_index: BlindIndex
    gate: Gate
    names: Names  # department codes and usernames by id, cached for the process
    blob_store: BlobStore

    @classmethod
    def from_settings(cls, settings: Settings, db: Database | None = None) -> AppContext:
        auth = settings.auth
        db = db or Database.from_url(settings.database_url, pool_size=settings.database.database_pool_size,
                                     echo=settings.database.database_echo)
        if not settings.production:
            generate_local_keys(settings.keys_dir)
        ring = KeyRing(LocalKeyProvider(settings.keys_dir), SqlKeyStore(db.engine))
        index = BlindIndex.from_directory(settings.keys_dir)
        lookup = keyfiles.audit_lookup(settings.keys_dir, create=not settings.production)
        policy = PolicyEngine(settings.policy_dir)
        gate = Gate(policy, ring, lookup=lookup)
        blobs = blob_store_from(settings)
        return cls(
            settings=settings,
            db=db,
            passwords=Passwords(time_cost=auth.argon2_time_cost, memory_cost=auth.argon2_memory_cost,
                                parallelism=auth.argon2_parallelism),
            tokens=token_service(settings),
            throttle=LoginThrottle(per_user=auth.login_attempts_per_user,
                                   per_address=auth.login_attempts_per_address,
                                   storage_uri=auth.rate_limit_storage),
            audit_lookup=lookup,
            checkpoint_keys=keyfiles.checkpoint_keys(settings.keys_dir, create=not settings.production),
            policy=policy,
            key_ring=ring,
            blind_index=index,
            gate=gate,
            names=Names(),
            blob_store=blobs,
        )

    def customer_importer(self) -> CustomerImporter:
        """The bulk intake; it runs its own units of work, a part of the file at a time."""
        return CustomerImporter(self.db, self.gate, self.key_ring, self.blind_index)


def token_service(settings: Settings) -> TokenService:
    auth = settings.auth
    if auth.jwt_algorithm == "HS256":
        secret = settings.jwt_signing_secret()
        signing, verifying = secret, secret
    else:
        if auth.jwt_private_key is None or auth.jwt_public_key is None:
            raise RuntimeError("ARCHIVE_JWT_PRIVATE_KEY and ARCHIVE_JWT_PUBLIC_KEY are required for "
                               f"{auth.jwt_algorithm}")
        signing, verifying = auth.jwt_private_key.get_secret_value(), auth.jwt_public_key
    oidc = None
    if auth.oidc_issuer and auth.oidc_jwks_url:
        oidc = OidcVerifier(issuer=auth.oidc_issuer, jwks_url=auth.oidc_jwks_url,
                            audience=auth.oidc_audience or auth.jwt_audience, algorithm=auth.oidc_algorithm)
    return TokenService(algorithm=auth.jwt_algorithm, signing_key=signing, verifying_key=verifying,
                        issuer=auth.jwt_issuer, audience=auth.jwt_audience,
                        ttl_seconds=auth.token_ttl_seconds, oidc=oidc)
