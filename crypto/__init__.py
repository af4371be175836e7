"""Pure cryptography library: envelope encryption, keys and rotation, streaming blobs, blind
indexes, signatures. Keys and bytes in, bytes out; it knows nothing of users, purposes or
grants, and imports nothing from `archive/` or `service/` (docs/crypto.md).

Plaintext comes out only through functions and methods named `decrypt`.
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
