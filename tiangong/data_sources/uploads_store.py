"""Workspace uploads: stored at workspaces/<owner>/uploads/<id>/<name>, where the owner's agent
file tools see them too; previews read only the start of a file."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import unicodedata
from pathlib import Path, PurePath
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.config import get_settings
from tiangong.data_sources import repository, tabular, textfiles
from tiangong.data_sources.errors import FileTooLarge, FileUnreadable, UploadNotFound
from tiangong.data_sources.models import Upload
from tiangong.data_sources.schemas import UploadPreview, UploadRead
from tiangong.db.base import new_id
from tiangong.tools.platform import workspace

MAX_NAME_BYTES = 200
# Text previews read at most this much; JSON files up to PREVIEW_JSON_BYTES are parsed whole.
PREVIEW_BYTES = 256 * 1024
PREVIEW_JSON_BYTES = 5 * 1024 * 1024
_BLOCK = 1024 * 1024
_NAME_PUNCTUATION = frozenset("._- ()[]（）")


def safe_name(raw: str) -> str:
    """The file name alone (no directories), NFC, letters, digits and a little punctuation,
    no leading dots, at most 200 bytes with the extension kept; "upload" if nothing is left."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(c if c.isalnum() or c in _NAME_PUNCTUATION else "_" for c in name)
    name = name.strip(" .")
    if not name:
        return "upload"
    path = PurePath(name)
    suffix = path.suffix if len(path.suffix.encode()) <= 20 else ""
    stem = name[: len(name) - len(suffix)] if suffix else name
    while len((stem + suffix).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem.rstrip(" .") or "upload") + suffix


def _directory(owner_id: str, upload_id: str) -> Path:
    return workspace(owner_id) / "uploads" / upload_id


def path_of(upload: Upload) -> Path:
    return _directory(upload.owner_id, upload.id) / upload.name


async def get(session: AsyncSession, user: User, upload_id: str) -> Upload:
    upload = await repository.get_upload(session, user, upload_id)
    if upload is None:
        raise UploadNotFound("Upload not found")
    return upload


def _copy(source: BinaryIO, target: Path, limit: int) -> tuple[int, str, bytes]:
    """(size, sha256, first bytes). The file appears under its name only once complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / ".partial"
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with partial.open("xb") as out:
            while block := source.read(_BLOCK):
                size += len(block)
                if size > limit:
                    raise FileTooLarge(f"The file is larger than the limit of {limit} bytes")
                if len(head) < textfiles.SAMPLE_BYTES:
                    head += block[: textfiles.SAMPLE_BYTES - len(head)]
                digest.update(block)
                out.write(block)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            target.parent.rmdir()
        raise
    return size, digest.hexdigest(), head


async def save(session: AsyncSession, user: User, filename: str, source: BinaryIO) -> UploadRead:
    name = safe_name(filename)
    upload_id = new_id()
    target = _directory(user.id, upload_id) / name
    limit = get_settings().upload_max_bytes
    size, sha256, head = await asyncio.to_thread(_copy, source, target, limit)
    sniffed = textfiles.sniff(name, head)
    row = Upload(
        id=upload_id,
        owner_id=user.id,
        name=name,
        content_type=sniffed.content_type,
        size=size,
        sha256=sha256,
    )
    await repository.add(session, row)
    return UploadRead.model_validate(row)


def _read_head(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _json_preview(preview: UploadPreview, text: str, size: int, count: int) -> bool:
    """Fills preview from parsed JSON; False when the file is not JSON after all."""
    try:
        data = tabular.parse_json(text)
    except FileUnreadable:
        return False
    if isinstance(data, list):
        table = tabular.records_table(data[:count], None)
        preview.columns, preview.rows = table.columns, table.rows
        preview.data, preview.truncated = data[:count], len(data) > count
        return True
    if size > PREVIEW_BYTES:
        return False  # one large object: its first lines say more than a huge body
    preview.data = data
    return True


def _preview(upload: Upload, count: int) -> UploadPreview:
    path = path_of(upload)
    head = _read_head(path, PREVIEW_BYTES)
    sniffed = textfiles.sniff(upload.name, head[: textfiles.SAMPLE_BYTES])
    preview = UploadPreview(
        id=upload.id,
        name=upload.name,
        size=upload.size,
        content_type=upload.content_type,
        kind=sniffed.kind,
        encoding=sniffed.encoding,
    )
    if sniffed.encoding is None:
        return preview
    if sniffed.kind == "json" and upload.size <= PREVIEW_JSON_BYTES:
        whole = textfiles.decode(_read_head(path, upload.size), sniffed.encoding)
        if _json_preview(preview, whole, upload.size, count):
            return preview
    text = textfiles.decode(head, sniffed.encoding)
    cut = upload.size > len(head)
    if cut:
        text = text[: text.rfind("\n") + 1]  # the read stopped inside the last line
    if sniffed.kind == "csv":
        # One row more than asked, to tell whether there are more.
        table = tabular.read_csv(text, None, max_rows=count + 1)
        preview.columns, preview.rows = table.columns, table.rows[:count]
        preview.truncated = len(table.rows) > count or cut
        return preview
    lines = text.splitlines()
    preview.lines, preview.truncated = lines[:count], cut or len(lines) > count
    return preview


async def preview(session: AsyncSession, user: User, upload_id: str, count: int) -> UploadPreview:
    upload = await get(session, user, upload_id)
    await session.commit()
    try:
        return await asyncio.to_thread(_preview, upload, count)
    except FileNotFoundError:
        raise UploadNotFound("The uploaded file is missing from the workspace") from None
