"""The data directory of the embedded default, private to the user who runs Team Talk.

It holds every email, password hash and session of the embedded database, the secret key
and the private Valkey's password and data, so nobody else on the machine may read it.
Files are created private; what an older version (or a copy, or an unzip) left readable
by others is tightened at start, with a warning saying what changed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)
DIR_MODE = 0o700
FILE_MODE = 0o600
# SQLite gives its -wal, -shm and -journal files the mode of the database file.
DATABASE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def secure_data_dir(path: Path) -> None:
    """Create the data directory 0700, and tighten it and what we keep in it."""
    make_dirs(path)
    tighten(path)
    tighten_database(path / "teamtalk.db")
    tighten(path / "secret_key")
    # Only names of ours: the directory may be one the operator also keeps other things in.
    tighten_tree(path / "valkey")


def make_dirs(path: Path) -> None:
    """Create a directory and any missing parents 0700 (existing ones are left alone)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir(mode=DIR_MODE, exist_ok=True)


def private_database(path: Path) -> None:
    """Create an empty SQLite file 0600 before SQLite does (it would follow the umask, and
    its -wal and -shm files copy the database file's mode), or tighten the existing ones."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    tighten_database(path)


def tighten_database(path: Path) -> None:
    for suffix in DATABASE_SUFFIXES:
        tighten(path.with_name(path.name + suffix))


def tighten_tree(path: Path) -> None:
    """Tighten a directory that is wholly ours and everything in it."""
    tighten(path)
    if not path.is_dir() or path.is_symlink():
        return
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            tighten(Path(root) / name)


def tighten(path: Path) -> None:
    """Take away group and other permissions from a file or directory, if it has any."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        return  # chmod would change what it points to, which may not be ours
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o077:
        return
    tightened = mode & 0o700
    try:
        os.chmod(path, tightened)
    except OSError as exc:
        log.warning(
            "%s is open to other users (mode %03o) and cannot be tightened: %s", path, mode, exc
        )
        return
    log.warning("%s was open to other users (mode %03o); tightened to %03o", path, mode, tightened)
