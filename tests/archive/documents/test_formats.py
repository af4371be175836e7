"""What may be filed: the sniffed type against the allow-list, and safe file names."""

from __future__ import annotations

import io
import zipfile

import pytest
from fpdf import FPDF

from archive.documents.errors import UnsupportedMediaType
from archive.documents.formats import SNIFF_BYTES, sanitise_filename, sniff


def _zip(*names: str, mimetype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if mimetype:
            archive.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=zipfile.ZIP_STORED)
        for name in names:
            archive.writestr(name, "<xml/>")
    return buffer.getvalue()


def _pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="contract")
    return bytes(pdf.output())


@pytest.mark.parametrize(("head", "filename", "expected"), [
    ("客户访问日报\n第一行\n".encode(), "visit.txt", "text/plain"),
    (b"\xef\xbb\xbfcode,name\nC-1,a\n", "list.csv", "text/csv"),
    (("合" * (SNIFF_BYTES // 3 + 1)).encode()[:SNIFF_BYTES], "cut.txt", "text/plain"),  # a character cut at the end
    (_pdf(), "contract.pdf", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64, "scan.png", "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64, "scan.jpg", "image/jpeg"),
    (b"GIF89a\x01\x00\x01\x00" + b"\x00" * 64, "a.gif", "image/gif"),
    (b"II*\x00\x08\x00\x00\x00" + b"\x00" * 64, "scan.tif", "image/tiff"),
    (_zip("[Content_Types].xml", "_rels/.rels", "word/document.xml"), "x.bin",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (_zip("[Content_Types].xml", "xl/workbook.xml"), "x.bin",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (_zip("content.xml", mimetype="application/vnd.oasis.opendocument.text"), "x.odt",
     "application/vnd.oasis.opendocument.text"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old.xls", "application/vnd.ms-excel"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old.doc", "application/msword"),
    (b"<html><script>alert(1)</script></html>", "page.html", "text/plain"),  # text, never served as HTML
])
def test_accepted_types(head: bytes, filename: str, expected: str) -> None:
    assert sniff(head[:SNIFF_BYTES], filename) == expected


@pytest.mark.parametrize(("head", "filename"), [
    (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64, "report.pdf"),
    (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "report.docx"),
    (_zip("payload.exe"), "report.docx"),
    (b"Rar!\x1a\x07\x00" + b"\x00" * 64, "a.rar"),
    (b"\x1f\x8b\x08\x00" + b"\x00" * 64, "a.gz"),
    (b"ID3\x03\x00\x00\x00" + b"\x00" * 64, "a.mp3"),
    (bytes(range(256)), "blob.bin"),
    ("文本".encode("gb18030") + b"\x00\x01", "gbk.txt"),
])
def test_refused_types(head: bytes, filename: str) -> None:
    with pytest.raises(UnsupportedMediaType, match="not accepted"):
        sniff(head, filename)


@pytest.mark.parametrize(("raw", "clean"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\张三\\合同.pdf", "合同.pdf"),
    ("report\x00\n.pdf", "report.pdf"),
    ('a<b>c:"d"|e?f*.txt', "a_b_c_d_e_f_.txt"),
    ("...hidden", "hidden"),
    ("  spaced   name .txt ", "spaced name .txt"),
    ("\u202egnp.exe", "gnp.exe"),  # no right-to-left override
    ("", "document"),
    (None, "document"),
    ("../", "document"),
    ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
])
def test_file_names_are_sanitised(raw: str | None, clean: str) -> None:
    assert sanitise_filename(raw) == clean
