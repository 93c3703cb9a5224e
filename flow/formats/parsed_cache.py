"""Parsed input files kept between runs under the user cache, keyed by their content.

Why: a Liberty library is the same file run after run, and parsing it (6.7 MB for Nangate45's
typical corner) costs ~0.5 s CPU, ten times more than loading the parsed result back. An
entry is found by a SHA-256 of the file's bytes together with the reader's version (the source
of the modules that produce the result) and the Python version, so a changed file, a changed
reader or another interpreter never sees an old result; only results that parsed without
error are kept. Entries are pickles in a directory only this user can write
(`$VHFLOW_CACHE_DIR`, else `$XDG_CACHE_HOME/vhflow`, else `~/.cache/vhflow`), loaded from there
only; set `VHFLOW_NO_CACHE=1` to parse every time. The least recently used entries beyond
`MAX_ENTRIES` per kind are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: entries kept per kind of file (a few platforms x corners)
MAX_ENTRIES = 32


def cache_root() -> Path:
    """Where the parsed files live (see the module docstring)."""
    explicit = os.environ.get("VHFLOW_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vhflow"


def source_version(modules: Iterable[str]) -> bytes:
    """A digest of the given modules' source files: the reader's version, so any edit to the
    code that produces a cached result invalidates it."""
    h = hashlib.sha256()
    for name in modules:
        mod = sys.modules[name]
        h.update(Path(mod.__file__ or "").read_bytes())
    return h.digest()


def entry_path(path: Path, kind: str, version: bytes) -> Path | None:
    """The cache file for `path`'s current content, or None when it cannot be read (the
    parser then reports the problem)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    h = hashlib.sha256()
    for part in (kind.encode(), version, sys.version.encode(), raw):
        h.update(hashlib.sha256(part).digest())
    return cache_root() / kind / f"{h.hexdigest()}.pickle"


def cached_parse(path: Path, kind: str, version: bytes, parse: Callable[[Path], T]) -> T:
    """`parse(path)`, or the result kept from an earlier parse of the same bytes by the same
    reader version. A missing, unreadable or corrupt entry is parsed again (and rewritten)."""
    if os.environ.get("VHFLOW_NO_CACHE"):
        return parse(path)
    entry = entry_path(path, kind, version)
    if entry is None:
        return parse(path)
    try:
        with open(entry, "rb") as f:
            result = pickle.load(f)
        with contextlib.suppress(OSError):
            os.utime(entry)  # recently used: kept by the pruning
        return result
    except FileNotFoundError:
        pass
    except Exception:  # noqa: BLE001 - a truncated or stale entry: parse again
        with contextlib.suppress(OSError):
            entry.unlink()
    result = parse(path)
    _store(entry, result)
    return result


def _store(entry: Path, result: object) -> None:
    """Write an entry atomically (a reader in another process sees all of it or nothing);
    a cache that cannot be written (read-only home, full disk) is only slower."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, entry)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _prune(entry.parent)
    except (OSError, pickle.PicklingError):
        pass


def _prune(folder: Path) -> None:
    """Remove the least recently used entries beyond MAX_ENTRIES."""
    try:
        entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in entries[MAX_ENTRIES:]:
        with contextlib.suppress(OSError):
            old.unlink()
