"""Cryptography library: envelope encryption, keys and rotation, streaming blobs, blind
indexes, signatures. Keys and bytes in, bytes out; it knows nothing of users or purposes, and
imports nothing from `archive/` or `service/` (docs/crypto.md).

Plaintext comes out only through `FieldCipher.decrypt` and `BlobCipher.decrypt`, and a key to
open with only through `KeyRing.dek_for_decrypt`, each against a `Grant` (crypto/grants.py)
minted by the one `GrantAuthority` the key ring trusts.
"""

from crypto.blind_index import BlindIndex, IndexKind, normalise
from crypto.envelope import FieldCipher, FieldContext
from crypto.errors import (
    BlobExtended,
    BlobTruncated,
    CryptoError,
    DecryptionError,
    KeyDestroyed,
    KeyRetired,
    KeyStillInUse,
    KeyUnavailable,
    SegmentOrderError,
    TamperedCiphertext,
    UnknownKeyVersion,
    UnsupportedFormat,
    WrongContext,
)
from crypto.grants import Grant, GrantAuthority, GrantKind, NotGranted
from crypto.keyring import KeyRing, KeyStatus, RewrapProgress, RewrapReport
from crypto.keys import KeyProvider, LocalKeyProvider, generate_local_keys
from crypto.keystore import DekState, InMemoryKeyStore, KeyStore, WrappedDek
from crypto.signing import PublicKey, SigningKeys
from crypto.streaming import BlobCipher, BlobSealed

__all__ = [
    "BlindIndex",
    "BlobCipher",
    "BlobExtended",
    "BlobSealed",
    "BlobTruncated",
    "CryptoError",
    "DecryptionError",
    "DekState",
    "FieldCipher",
    "FieldContext",
    "Grant",
    "GrantAuthority",
    "GrantKind",
    "InMemoryKeyStore",
    "IndexKind",
    "KeyDestroyed",
    "KeyProvider",
    "KeyRetired",
    "KeyRing",
    "KeyStatus",
    "KeyStillInUse",
    "KeyStore",
    "KeyUnavailable",
    "LocalKeyProvider",
    "NotGranted",
    "PublicKey",
    "RewrapProgress",
    "RewrapReport",
    "SegmentOrderError",
    "SigningKeys",
    "TamperedCiphertext",
    "UnknownKeyVersion",
    "UnsupportedFormat",
    "WrappedDek",
    "WrongContext",
    "generate_local_keys",
    "normalise",
]
