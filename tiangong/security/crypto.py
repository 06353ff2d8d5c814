"""Encryption of secrets at rest (API keys, tool credentials) and masking for display."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from tiangong.errors import AppError
from tiangong.security.keys import encryption_key


def encrypt(plain: str) -> str:
    return Fernet(encryption_key()).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return Fernet(encryption_key()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        # The data dir's key changed since this secret was stored; say so instead of a 500.
        raise AppError(
            "A stored secret cannot be decrypted with the current encryption key",
            code="SECRET_UNREADABLE",
            status=500,
        ) from exc


def mask(plain: str | None) -> str | None:
    """Enough to recognise a key, never enough to use it."""
    if not plain:
        return None
    if len(plain) <= 8:
        return "****"
    return f"{plain[:3]}****{plain[-4:]}"
