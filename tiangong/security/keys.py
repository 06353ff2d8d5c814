"""Secret and encryption keys: given in settings, or generated once into the data dir."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

from tiangong.config import get_settings


def _load_or_create(path: Path, make: bytes) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two workers starting together must agree on one key, not overwrite each other.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(make)
    return make


@lru_cache
def secret_key() -> str:
    """The JWT signing key."""
    settings = get_settings()
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    return _load_or_create(path, secrets.token_urlsafe(48).encode()).decode()


@lru_cache
def encryption_key() -> bytes:
    """A Fernet key; any configured string is stretched to one, so a passphrase works too."""
    settings = get_settings()
    if settings.encryption_key:
        digest = hashlib.sha256(settings.encryption_key.encode()).digest()
        return base64.urlsafe_b64encode(digest)
    path = settings.data_dir / "encryption_key"
    return _load_or_create(path, base64.urlsafe_b64encode(secrets.token_bytes(32)))


def reset_key_cache() -> None:
    secret_key.cache_clear()
    encryption_key.cache_clear()
