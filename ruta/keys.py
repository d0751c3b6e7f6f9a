"""Where the encryption keys come from: RUTA_SECRET_KEY, or a key file under RUTA_HOME.

RUTA_SECRET_KEY holds one key or several separated by commas: the first seals, every one
opens. Without it, `ruta init` generates RUTA_HOME/secret.key (mode 0600, one key per line,
the first seals) and Ruta refuses a key file that others can read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import Engine, inspect

from ruta import datadir
from ruta.settings import Settings
from workflows.store.rotation import key_usage
from workflows.store.vault import Vault, VaultError, new_key, parse_key

KEY_FILE = "secret.key"
HEADER = "# Ruta encryption keys: the first seals new data, every one opens. Keep private.\n"


def key_file(cfg: Settings) -> Path:
    return cfg.home / KEY_FILE


def from_env(cfg: Settings) -> list[str] | None:
    if cfg.secret_key is None:
        return None
    texts = [t for t in cfg.secret_key.get_secret_value().split(",") if t.strip()]
    if not texts:
        raise VaultError("RUTA_SECRET_KEY is set but empty; unset it or give a key.")
    return texts


class KeyFile:
    """The key file, read again whenever it changes (so a rotation reaches every process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._keys: list[bytes] = []

    def keys(self) -> list[bytes]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            raise VaultError(
                f"No encryption key: {self.path} does not exist; run `ruta init` "
                "or set RUTA_SECRET_KEY."
            ) from None
        if (info.st_mtime_ns, info.st_size) != self._seen:
            if info.st_mode & 0o077:
                raise VaultError(
                    f"{self.path} can be read by other users "
                    f"(mode {stat.filemode(info.st_mode)}); run `chmod 600 {self.path}`."
                )
            self._keys = [
                parse_key(line, f"{self.path}:{n}") for n, line in _lines(self.path.read_text())
            ]
            if not self._keys:
                raise VaultError(
                    f"{self.path} holds no key; restore it from your backup, or, if no personal "
                    "data was ever sealed, run `ruta keys new` and write the key into it."
                )
            self._seen = (info.st_mtime_ns, info.st_size)
        return self._keys

    def write(self, texts: list[str]) -> None:
        """Replace the file atomically, never readable by others, even for a moment."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(HEADER + "".join(f"{t}\n" for t in texts))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)

    def texts(self) -> list[str]:
        return [line.strip() for _, line in _lines(self.path.read_text())]


def _lines(text: str) -> list[tuple[int, str]]:
    return [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def ensure_key_file(cfg: Settings) -> Path | None:
    """Generate the key file unless RUTA_SECRET_KEY is set or the file exists; return it if new."""
    if cfg.secret_key is not None:
        return None
    path = key_file(cfg)
    if path.exists():
        return None
    datadir.ensure(path.parent)
    KeyFile(path).write([new_key()])
    return path


def check_sealed_data(cfg: Settings, engine: Engine) -> None:
    """Refuse when the database holds values sealed under a key this installation lacks.

    `ruta init` runs this before it would generate a key file: a new key next to data sealed
    under a lost one would seal new data under a key that can never open the old.

    Raises:
        VaultError: naming the missing key id(s), how many values each holds, and where
            the key is expected (restore it from a backup).
    """
    with engine.connect() as conn:
        if not inspect(conn).has_table("persons"):
            return  # a fresh database, or one from before personal data was sealed
        usage = key_usage(conn)
    if not usage:
        return
    texts = from_env(cfg)
    path = key_file(cfg)
    if texts is not None:
        have = set(Vault.from_text(texts, "RUTA_SECRET_KEY").key_ids)
        lack, restore = "which RUTA_SECRET_KEY does not hold", "put the key back in it"
    elif path.exists():
        have = set(Vault(KeyFile(path).keys()).key_ids)
        lack = f"which the key file {path} does not hold"
        restore = f"restore the key file from your backup to {path} (mode 0600)"
    else:
        have, lack = set(), f"but the key file {path} does not exist"
        restore = f"restore it from your backup to {path} (mode 0600)"
    missing = sorted(set(usage) - have)
    if missing:
        held = ", ".join(f"{kid} ({usage[kid]} sealed value(s))" for kid in missing)
        raise VaultError(
            f"The database holds personal data sealed under key {held}, {lack}; {restore}, "
            "then run `ruta init` again. No new key was written."
        )


def vault(cfg: Settings) -> Vault:
    texts = from_env(cfg)
    if texts is not None:
        return Vault.from_text(texts, "RUTA_SECRET_KEY")
    source = KeyFile(key_file(cfg))
    return Vault(source.keys(), reload=source.keys)
