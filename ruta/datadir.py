"""The data directory (RUTA_HOME) and what Ruta writes in it: readable by its owner only.

The directory is 0700 and every file in it 0600: the SQLite database (SQLite gives its
-journal, -wal and -shm files the database file's mode), the key file, the logs of `ruta
serve`, the audit anchors. The `ruta` command also runs under umask 077, so a file some
library creates on its own (Prefect's database, an .eml file) is private too.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077


def ensure(home: Path) -> Path:
    """Create the directory (and missing parents) if needed, and make it private."""
    home.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if home.stat().st_uid == os.getuid():  # a directory another user owns is theirs to set
        home.chmod(DIR_MODE)  # one made before, by hand or by an older Ruta, is tightened too
    return home


def private_file(path: Path) -> Path:
    """Create the file empty if missing, and make it private (an existing one too)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    os.close(fd)
    path.chmod(FILE_MODE)
    return path


def private_umask() -> int:
    """From now on this process creates private files and directories; returns the old mask."""
    return os.umask(UMASK)
