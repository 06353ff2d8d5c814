"""The raw bytes of each document, at data_dir/knowledge/<kb>/<doc>, kept for re-indexing."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO

from tiangong.config import get_settings
from tiangong.errors import AppError

_BLOCK = 1024 * 1024


class FileTooLarge(AppError):
    code = "FILE_TOO_LARGE"
    status = 413


def _kb_dir(kb_id: str) -> Path:
    return get_settings().data_dir / "knowledge" / kb_id


def raw_path(kb_id: str, doc_id: str) -> Path:
    return _kb_dir(kb_id) / doc_id


def _copy_capped(source: BinaryIO, target: Path, limit: int) -> tuple[int, str]:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    partial = target.with_suffix(".part")
    try:
        with partial.open("wb") as out:
            while block := source.read(_BLOCK):
                size += len(block)
                if size > limit:
                    raise FileTooLarge(f"The file is larger than the limit of {limit} bytes")
                digest.update(block)
                out.write(block)
        # Rename last, so a job never reads a file still being written.
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return size, digest.hexdigest()


async def save_stream(kb_id: str, doc_id: str, source: BinaryIO, limit: int) -> tuple[int, str]:
    """Store an upload; returns (size, sha256). FileTooLarge past `limit` bytes."""
    return await asyncio.to_thread(_copy_capped, source, raw_path(kb_id, doc_id), limit)


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    os.replace(partial, target)


async def save(kb_id: str, doc_id: str, data: bytes) -> None:
    await asyncio.to_thread(_write, raw_path(kb_id, doc_id), data)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


async def load(kb_id: str, doc_id: str) -> bytes | None:
    return await asyncio.to_thread(_read, raw_path(kb_id, doc_id))


def remove_document(kb_id: str, doc_id: str) -> None:
    raw_path(kb_id, doc_id).unlink(missing_ok=True)


def remove_kb(kb_id: str) -> None:
    shutil.rmtree(_kb_dir(kb_id), ignore_errors=True)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
