"""Every failure `crypto/` raises, as one tree under `CryptoError`.

    CryptoError
    ├── DecryptionError          the ciphertext cannot be opened; nothing was returned
    │   ├── UnsupportedFormat    unknown format version or a malformed header
    │   ├── TamperedCiphertext   authentication failed: a changed bit, or a foreign context
    │   │   ├── WrongContext     sealed for another table/column/row/customer (see below)
    │   │   ├── SegmentOrderError a blob segment authenticates, but at another position
    │   │   └── BlobExtended     data follows the blob's last segment
    │   └── BlobTruncated        the blob ends before its last segment
    ├── KeyUnavailable           the key needed is not usable
    │   ├── KeyDestroyed         the customer's data key was destroyed (crypto-shredding)
    │   ├── KeyRetired           a retired (and perhaps deleted) key-encryption key
    │   └── UnknownKeyVersion    no such key version
    ├── KeyStillInUse            retiring a key that data keys still depend on
    ├── KeyLimitReached          a data key sealed its nonce budget: rotate it
    ├── KeyProviderReadOnly      the provider cannot create or retire keys (mounted secrets)
    ├── KeyFileError             a key file group/others may read, or one of the wrong size
    ├── InvalidIndexValue        a value normalises to nothing indexable (also a ValueError)
    └── SignatureInvalid         a signature does not verify under the given public key

Under AES-GCM a wrong associated data and a flipped bit are the same event: the tag does not
verify. `WrongContext` is told apart only by the short context fingerprint that field and blob
headers carry (docs/crypto.md): when the tag fails and the fingerprint names another context,
the value was moved. A bit flipped inside the fingerprint itself also reads as `WrongContext`,
which is why it is a kind of `TamperedCiphertext` — catch the parent unless the difference
matters.

Messages carry versions, counts and segment indexes; never key bytes, plaintext or ciphertext.
"""

from __future__ import annotations

import uuid


class CryptoError(Exception):
    """Base of everything `crypto/` raises on purpose."""


class DecryptionError(CryptoError):
    """A ciphertext could not be opened; no plaintext was produced."""


class UnsupportedFormat(DecryptionError):
    """The header names a format version this code does not read, or is malformed."""


class TamperedCiphertext(DecryptionError):
    """The authentication tag did not verify: the bytes were changed or belong elsewhere."""


class WrongContext(TamperedCiphertext):
    """The value was sealed for another table, column, row or customer (it was moved)."""


class SegmentOrderError(TamperedCiphertext):
    """A blob segment is genuine but sits at the wrong position (reordered or swapped)."""

    def __init__(self, position: int, sealed_at: int) -> None:
        super().__init__(f"blob segment at position {position} was sealed as segment {sealed_at}")
        self.position = position
        self.sealed_at = sealed_at


class BlobExtended(TamperedCiphertext):
    """Bytes follow the segment that was sealed as the last one."""


class BlobTruncated(DecryptionError):
    """The blob ends before its last segment: data was cut off."""


class KeyUnavailable(CryptoError):
    """The key a ciphertext needs cannot be used."""


class KeyDestroyed(KeyUnavailable):
    """The customer's data key was destroyed: the data is permanently unreadable."""

    def __init__(self, customer_id: uuid.UUID) -> None:
        super().__init__(
            f"the data key of customer {customer_id} was destroyed (crypto-shredding); "
            "its encrypted data is permanently unreadable"
        )
        self.customer_id = customer_id


class KeyRetired(KeyUnavailable):
    """A retired key-encryption key was asked to wrap or unwrap."""

    def __init__(self, version: int) -> None:
        super().__init__(f"key-encryption key v{version} is retired")
        self.version = version


class UnknownKeyVersion(KeyUnavailable):
    """No key of this version exists (never created, or its material is missing)."""


class KeyStillInUse(CryptoError):
    """A key cannot be retired while anything still depends on it."""

    def __init__(self, version: int, dependants: int, why: str = "data keys are still wrapped by it", *,
                 key: str = "key-encryption key") -> None:
        super().__init__(f"{key} v{version} cannot be retired: {dependants} {why}")
        self.version = version
        self.dependants = dependants


class KeyLimitReached(CryptoError):
    """A data key reached its per-key message budget (random-nonce bound): rotate it."""


class KeyProviderReadOnly(CryptoError):
    """The key provider only reads keys (mounted secrets); create and retire them elsewhere."""


class KeyFileError(CryptoError):
    """A key file is unsafe (group or others may read it) or malformed."""


class InvalidIndexValue(CryptoError, ValueError):
    """A value has nothing left to index after normalisation."""


class SignatureInvalid(CryptoError):
    """The signature does not verify under the given public key."""
