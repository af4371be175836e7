"""What may be filed: the content type sniffed from the first bytes (never the client's word)
against an allow-list of text, PDF, images and office files; and a file name that is safe to
store and to send back in a Content-Disposition header."""

from __future__ import annotations

import re
import unicodedata

import puremagic

from archive.documents.errors import UnsupportedMediaType

SNIFF_BYTES = 8192

PDF = "application/pdf"
TEXT = "text/plain"
CSV = "text/csv"
IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/tiff", "image/webp", "image/bmp"})
OOXML = {
    b"word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    b"xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    b"ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
OOXML_BY_EXTENSION = {".docx": b"word/", ".xlsx": b"xl/", ".pptx": b"ppt/"}
OLE = {".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint"}
OLE_DEFAULT = "application/msword"
ODF_PREFIX = b"application/vnd.oasis.opendocument."
ODF = frozenset({"text", "spreadsheet", "presentation"})
ALLOWED = frozenset({PDF, TEXT, CSV, *IMAGES, *OOXML.values(), *OLE.values(), OLE_DEFAULT,
                     *(ODF_PREFIX.decode() + kind for kind in ODF)})
ALLOWED_SUMMARY = "text (UTF-8), PDF, PNG/JPEG/GIF/TIFF/WebP/BMP images, Word/Excel/PowerPoint, OpenDocument"


def sniff(head: bytes, filename: str = "") -> str:
    """The content type of a file from its first bytes (up to SNIFF_BYTES); refuses anything
    outside the allow-list — executables, archives, HTML served as HTML, unknown binaries."""
    extension = _extension(filename)
    found = _office(head, extension) or _text(head, extension) or _by_magic(head)
    if found is None or found not in ALLOWED:
        raise UnsupportedMediaType(f"This file's type is not accepted. Accepted: {ALLOWED_SUMMARY}.")
    return found


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot > 0 else ""


def _office(head: bytes, extension: str) -> str | None:
    if head.startswith(b"PK\x03\x04"):
        if head[30:38] == b"mimetype" and head[38:38 + len(ODF_PREFIX)] == ODF_PREFIX:
            kind = head[38 + len(ODF_PREFIX):].split(b"P", 1)[0].decode("ascii", "replace")
            return ODF_PREFIX.decode() + kind if kind in ODF else None
        if b"[Content_Types].xml" in head:
            part = next((p for p in OOXML if _names_part(head, p)), None) or OOXML_BY_EXTENSION.get(extension)
            return OOXML[part] if part else None
        return "application/zip"  # any other archive: refused
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return OLE.get(extension, OLE_DEFAULT)
    return None


def _names_part(head: bytes, part: bytes) -> bool:
    """A zip local-file header in the head names an entry under `part`."""
    return re.search(rb"PK\x03\x04.{26}" + re.escape(part), head, re.DOTALL) is not None


def _by_magic(head: bytes) -> str | None:
    """puremagic's most confident reading, when it is a PDF or an image; anything else
    (executables, archives, media, unknown binaries) is refused."""
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    best = max((m.confidence for m in matches), default=0.0)
    likeliest = {_ALIASES.get(m.mime_type, m.mime_type) for m in matches if m.confidence == best}
    return next((t for t in sorted(likeliest) if t == PDF or t in IMAGES), None)


_ALIASES = {"image/x-ms-bmp": "image/bmp"}


def _text(head: bytes, extension: str) -> str | None:
    """UTF-8 text without control characters other than tab, CR, LF and form feed."""
    body = head.removeprefix(b"\xef\xbb\xbf")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        if len(head) < SNIFF_BYTES or error.start < len(body) - 3:  # not just a cut final character
            return None
        text = body[:error.start].decode("utf-8")
    if any(unicodedata.category(c) == "Cc" and c not in "\t\r\n\f" for c in text):
        return None
    return CSV if extension == ".csv" else TEXT


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
MAX_FILENAME = 150


def sanitise_filename(raw: str | None) -> str:
    """The last path component, NFC, without control or path characters, at most
    MAX_FILENAME characters with the extension kept; "document" when nothing is left."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    name = " ".join(_UNSAFE.sub("_", name).split()).lstrip(". ")
    if len(name) > MAX_FILENAME:
        extension = _extension(name)[:16]
        name = name[:MAX_FILENAME - len(extension)].rstrip(". ") + extension
    return name or "document"
