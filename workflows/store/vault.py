"""Encryption at rest of personal data, and blind indexes to find it without plaintext.

A `Vault` holds a ring of 256-bit master keys. The first one seals (encrypts) new data; every
one opens (decrypts), so data sealed under an older key stays readable while `ruta keys
rotate` re-seals it, after which the old key can be retired. Each master key derives two
subkeys with HKDF: one for AES-256-GCM (authenticated encryption) and one for HMAC-SHA256
blind indexes. Every sealed value is bound to where it is stored (`persons:<case id>`), so a
ciphertext moved to another row no longer opens.

A sealed value reads `v1.<key id>.<base64(nonce + ciphertext)>`: the key id says which key
opens it, which is how rotation finds what is still to re-seal.

Plaintext that passes through a vault is remembered by the log redactor (redactor.py), so
the logging filter can strike it from log lines (ruta/logs.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from workflows.domain.attributes import normalise_document
from workflows.domain.errors import SealedDataUnavailable
from workflows.store.redactor import REDACTOR, Redactor

VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_TEXT = re.compile(r"^[A-Za-z0-9_-]{43}=?$")


class VaultError(SealedDataUnavailable):
    """A key or a sealed value is not what it must be; the message names which and why."""


def new_key() -> str:
    """A fresh random master key, as url-safe base64 text (what key files and env hold)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def parse_key(text: str, where: str) -> bytes:
    """Decode one master key; `where` names its origin in the error (never the key itself)."""
    text = text.strip()
    if not _KEY_TEXT.match(text):
        raise VaultError(
            f"{where}: not a Ruta key; a key is 32 random bytes in url-safe base64 "
            f"(44 characters, as `ruta keys new` prints)"
        )
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


@dataclass(frozen=True, slots=True)
class _Key:
    id: str
    aead: AESGCM
    index: bytes

    @classmethod
    def of(cls, master: bytes) -> _Key:
        kid = hashlib.sha256(b"ruta key id\x00" + master).hexdigest()[:8]
        return cls(
            kid, AESGCM(_derive(master, b"ruta persons aead v1")), _derive(master, b"ruta index v1")
        )


class Vault:
    """Seal, open and index personal data under a ring of master keys (first one seals)."""

    def __init__(
        self,
        keys: Sequence[bytes],
        reload: Callable[[], Sequence[bytes]] | None = None,
        redactor: Redactor = REDACTOR,
    ) -> None:
        self._reload = reload
        self._redactor = redactor
        self._set(keys)

    @classmethod
    def from_text(cls, texts: Sequence[str], where: str, redactor: Redactor = REDACTOR) -> Vault:
        keys = [parse_key(t, f"{where}, key {i + 1}") for i, t in enumerate(texts)]
        return cls(keys, redactor=redactor)

    def _set(self, keys: Sequence[bytes]) -> None:
        if tuple(keys) == getattr(self, "_masters", None):
            return
        if not keys:
            raise VaultError("No encryption key; run `ruta init` or set RUTA_SECRET_KEY.")
        for master in keys:
            if len(master) != KEY_BYTES:
                raise VaultError(f"An encryption key must be {KEY_BYTES} bytes, not {len(master)}.")
        ring = [_Key.of(master) for master in keys]
        self._masters = tuple(keys)
        self._ring = {k.id: k for k in ring}
        self._primary = ring[0]

    def refresh(self) -> None:
        """Read the keys again (a key file rotated by another process)."""
        if self._reload is not None:
            self._set(self._reload())

    @property
    def primary_id(self) -> str:
        return self._primary.id

    @property
    def key_ids(self) -> list[str]:
        return list(self._ring)

    def seal(self, plaintext: str, context: str) -> str:
        self.refresh()  # a rotation elsewhere makes the new key the sealing one at once
        key = self._primary
        nonce = os.urandom(NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}.{key.id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, token: str, context: str) -> str:
        _version, kid, body = _split(token, context)
        key = self._ring.get(kid)
        if key is None:
            self.refresh()
            key = self._ring.get(kid)
        if key is None:
            raise VaultError(
                f"{context}: sealed under key {kid}, which this installation no longer has "
                f"(keys: {', '.join(self._ring)})"
            )
        try:
            raw = base64.urlsafe_b64decode(body)
            plaintext = key.aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise VaultError(
                f"{context}: the sealed value does not open; it was altered or belongs elsewhere"
            ) from None
        return plaintext.decode()

    def remember(self, values: Iterable[str]) -> None:
        """Let the log redactor know these personal values."""
        self._redactor.remember(values)

    def index(self, value: str, field: str) -> str:
        """The blind index of a value under the sealing key (what a row stores)."""
        return _blind(self._primary, value, field)

    def lookups(self, value: str, field: str) -> list[str]:
        """The value's blind index under every key, so lookups work mid-rotation."""
        self.refresh()
        return [_blind(k, value, field) for k in self._ring.values()]


def sealed_key_id(token: str) -> str:
    """Which key sealed a value (without opening it)."""
    return _split(token, "sealed value")[1]


def _split(token: str, context: str) -> tuple[str, str, str]:
    parts = token.split(".", 2)
    if len(parts) != 3 or parts[0] != VERSION:
        raise VaultError(f"{context}: not a sealed value (expected {VERSION}.<key id>.<data>)")
    return parts[0], parts[1], parts[2]


def _blind(key: _Key, value: str, field: str) -> str:
    message = f"{field}\x00{normalise_document(value)}".encode()
    return hmac.new(key.index, message, hashlib.sha256).hexdigest()
