"""Feishu's event encryption and request signature, as Feishu documents them.

Encrypted events arrive as {"encrypt": base64(iv + AES-256-CBC(json))} with key
SHA256(encrypt_key) and PKCS#7 padding. The signature header is
SHA256(timestamp + nonce + encrypt_key + raw body), hex.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tiangong.errors import BadRequest, Unauthorized


def _key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode()).digest()


def decrypt(encrypted: str, encrypt_key: str) -> str:
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("encrypt is not base64", code="FEISHU_BAD_PAYLOAD") from None
    if len(data) < 32 or len(data) % 16:
        raise BadRequest("encrypt has the wrong length", code="FEISHU_BAD_PAYLOAD")
    decryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(data[:16])).decryptor()
    padded = decryptor.update(data[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        return plain.decode()
    except (ValueError, UnicodeDecodeError):
        # A wrong key gives garbage that fails the padding check (or is not text).
        raise Unauthorized(
            "The event could not be decrypted", code="FEISHU_BAD_SIGNATURE"
        ) from None


def encrypt(plain: str, encrypt_key: str, iv: bytes) -> str:
    """The inverse of `decrypt`; used by tests that play Feishu."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def check_signature(
    timestamp: str | None, nonce: str | None, sent: str | None, encrypt_key: str, body: bytes
) -> None:
    if timestamp is None or nonce is None or sent is None:
        return
    if not hmac.compare_digest(signature(timestamp, nonce, encrypt_key, body), sent):
        raise Unauthorized("Bad Feishu signature", code="FEISHU_BAD_SIGNATURE")
