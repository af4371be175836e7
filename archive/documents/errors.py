"""Errors of the document area, rendered as problem+json like every `ArchiveError`."""

from __future__ import annotations

from archive.errors import ArchiveError


class UnsupportedMediaType(ArchiveError):
    status, title, type_slug = 415, "Unsupported media type", "unsupported-media-type"


class ContentUnavailable(ArchiveError):
    """The stored content is missing or fails its integrity check: a fault on our side."""

    status, title, type_slug = 500, "Document content unavailable", "content-unavailable"


class ContentDestroyed(ArchiveError):
    """The customer's data key was destroyed (crypto-shredding): the content is gone for good."""

    status, title, type_slug = 410, "Document content destroyed", "content-destroyed"
