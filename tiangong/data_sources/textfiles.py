"""What an uploaded file is: its type from its bytes, and its text encoding (UTF-8 or GBK)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import PurePath

# How much of a file is read to decide what it is.
SAMPLE_BYTES = 64 * 1024

# Encoding label shown -> codec used: GB18030 is a superset of GBK, so GBK files decode.
CODECS = {"utf-8": "utf-8-sig", "gbk": "gb18030"}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"RIFF", "application/octet-stream"),
    (b"\x7fELF", "application/octet-stream"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
)
_ZIP_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_TEXT_KINDS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
}
_TEXT_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "markdown": "text/markdown",
    "text": "text/plain",
}


@dataclass(frozen=True)
class Sniffed:
    kind: str  # text, markdown, csv, json or binary
    content_type: str
    encoding: str | None  # a key of CODECS, or None for binary


def detect_encoding(sample: bytes) -> str | None:
    """utf-8 or gbk when the sample is text in one of them, else None (binary)."""
    if b"\x00" in sample:
        return None
    for label in ("utf-8", "gbk"):
        try:
            # Not final: the sample may end inside a character.
            text = codecs.getincrementaldecoder(CODECS[label])().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for char in text if ord(char) < 32 and char not in "\t\n\r\f")
        return label if controls <= len(text) // 100 else None
    return None


def sniff(name: str, sample: bytes) -> Sniffed:
    """The type from the bytes; the file name only picks among text kinds (and zip types)."""
    suffix = PurePath(name).suffix.lower()
    for magic, content_type in _MAGIC:
        if sample.startswith(magic):
            if content_type == "application/zip":
                content_type = _ZIP_TYPES.get(suffix, content_type)
            return Sniffed("binary", content_type, None)
    encoding = detect_encoding(sample)
    if encoding is None:
        return Sniffed("binary", "application/octet-stream", None)
    kind = _TEXT_KINDS.get(suffix, "text")
    return Sniffed(kind, _TEXT_TYPES[kind], encoding)


def decode(data: bytes, encoding: str) -> str:
    return data.decode(CODECS.get(encoding, encoding), errors="replace")
