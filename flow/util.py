"""Small helpers shared by the host: atomic writes, JSON encoding of numpy values."""

from __future__ import annotations

import functools
import gc
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])


def gc_paused(func: _F) -> _F:
    """Run `func` with CPython's cyclic garbage collector paused.

    Why: the readers and engines allocate millions of small acyclic objects (tokens, tuples,
    name strings); every 700 allocations the collector walks the young generation, and the
    full collections it triggers walk the whole growing heap: ~25% of the time of reading and
    timing a 100k-instance netlist (benchmarks/bench_sta.py). Reference counting still frees
    everything; the collector resumes afterwards (nesting-safe: only the outermost call
    re-enables it)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper  # type: ignore[return-value]


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write a file so that readers see either the old or the whole new content, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_default(obj: Any) -> Any:
    """Encode numpy scalars/arrays and paths, which the engines return freely."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set):
        return sorted(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: Path | str, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=json_default) + "\n")


def read_bytes_maybe_gzip(path: Path | str, what: str) -> bytes:
    """A file's bytes, gunzipped when it is gzip; a FormatError naming it when unreadable."""
    import gzip

    from flow.errors import FormatError

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise FormatError(path, None, f"cannot read {what}: {exc.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise FormatError(path, None, f"corrupt gzip {what}: {exc}") from None
    return raw


def read_text_without_block_comments(path: Path | str, what: str = "file") -> str:
    """Text of a (maybe gzipped) file with `/* */` comments blanked (line numbers kept) and
    backslash-newline continuations joined — what Liberty and Verilog readers start from."""
    text = read_bytes_maybe_gzip(path, what).decode("utf-8", "replace")
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    return text.replace("\\\n", " \n")
