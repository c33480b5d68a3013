"""The bot's files are its user's alone: the data directory 0700, the database, the console's
alert log and the Matrix store 0600. New files get that from the umask set at start; files of an
existing install made before (0755/0644) are not changed behind the admin's back but named in
one warning with the command that fixes them."""

from __future__ import annotations

import logging
import os
import shlex
import stat
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

UMASK = 0o077
MAX_NAMED = 8  # paths named in the warning; the rest are counted
_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def restrict_new_files() -> None:
    """Files and directories the process creates from now on are its user's only."""
    os.umask(UMASK)


def exposed(paths: Iterable[Path], trees: Iterable[Path] = ()) -> list[tuple[Path, int]]:
    """The existing ones among `paths`, and `trees` with everything in them, that their group
    or other users may read, write or enter, with their mode."""
    found: dict[Path, int] = {}
    candidates = [*paths, *(p for tree in trees for p in _with_contents(tree))]
    for candidate in candidates:
        try:
            info = candidate.lstat()
        except FileNotFoundError:
            continue
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077 and not stat.S_ISLNK(info.st_mode):
            found.setdefault(candidate, mode)
    # SQLite makes a database's -wal, -shm and -journal files (which come and go) with the
    # database's mode: fixing the database fixes them.
    return [(path, mode) for path, mode in found.items()
            if not (path.name.endswith(_SQLITE_SIDECARS) and _sidecar_of(path) in found)]


def _sidecar_of(path: Path) -> Path:
    return path.with_name(path.name.rsplit("-", 1)[0])


def warn_if_exposed(paths: Iterable[Path], trees: Iterable[Path] = ()) -> list[tuple[Path, int]]:
    """One WARNING naming the exposed paths and the fix; returns them."""
    found = exposed(paths, trees)
    if found:
        named = ", ".join(f"{p} ({mode:04o})" for p, mode in found[:MAX_NAMED])
        more = f" and {len(found) - MAX_NAMED} more" if len(found) > MAX_NAMED else ""
        fix = " ".join(shlex.quote(str(p)) for p, _ in found)
        log.warning("other users of this machine can read the bot's data (members' product "
                    "lists, keys): %s%s; fix: chmod go-rwx %s", named, more, fix)
    return found


def _with_contents(path: Path) -> list[Path]:
    if not path.is_dir() or path.is_symlink():
        return [path]
    return [path, *sorted(path.rglob("*"))]
