"""Small helpers shared by the host: atomic writes, JSON encoding of numpy values."""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
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
        with collector_paused():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def collector_paused(freeze: bool = False) -> Iterator[None]:
    """`gc_paused` as a `with` block. `freeze=True` also freezes the heap at its end (frozen
    objects are never collected again, so the interpreter's final collections skip them): only
    for a process about to exit."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()


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


#: files larger than this are not EDA text a reader should hold in memory at once
MAX_INPUT_BYTES = 4 << 30


def read_bytes_maybe_gzip(path: Path | str, what: str, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """A file's bytes, gunzipped when it is gzip; a FormatError naming it when unreadable,
    corrupt, larger than `max_bytes` (also after decompression) or too large for memory."""
    import gzip
    import zlib

    from flow.errors import FormatError

    try:
        if Path(path).stat().st_size > max_bytes:
            raise FormatError(path, None, f"{what} larger than {max_bytes >> 20} MB: not read")
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise FormatError(path, None, f"cannot read {what}: {exc.strerror or exc}") from None
    except MemoryError:
        raise FormatError(path, None, f"{what} does not fit in memory") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=__import__("io").BytesIO(raw)) as gz:
                raw = gz.read(max_bytes + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise FormatError(path, None, f"corrupt gzip {what}: {exc}") from None
        except MemoryError:
            raise FormatError(path, None, f"{what} does not fit in memory once decompressed") from None
        if len(raw) > max_bytes:
            raise FormatError(path, None, f"{what} decompresses to more than {max_bytes >> 20} MB: not read")
    return raw


def read_text_without_block_comments(path: Path | str, what: str = "file") -> str:
    """Text of a (maybe gzipped) file with `/* */` comments blanked (line numbers kept) and
    backslash-newline continuations joined — what Liberty and Verilog readers start from."""
    from flow.errors import FormatError

    text = read_bytes_maybe_gzip(path, what).decode("utf-8", "replace")
    if "\0" in text:
        raise FormatError(path, text.count("\n", 0, text.index("\0")) + 1, f"NUL byte: not a {what} text file")
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    return text.replace("\\\n", " \n")


def read_text_file(path: Path | str, what: str, *, max_bytes: int = 1 << 30) -> str:
    """A text file as str: UTF-8, or Latin-1 where a file has bytes that are not UTF-8 (as the
    Tcl and C readers of the EDA tools accept them); FormatError when unreadable or too large
    (a 1 GB garbage file must not exhaust memory)."""
    from flow.errors import FormatError

    path = Path(path)
    raw = read_bytes_maybe_gzip(path, what, max_bytes)
    if b"\0" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
        raise FormatError(path, line, f"NUL byte: this is not a {what} text file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def send_outcome(fd: int, outcome: tuple[bool, Any]) -> None:
    """Child side of a forked call: write `(ok, value)` pickled to `fd` and close it; a value or
    exception that cannot be pickled becomes a VhflowError saying what it was."""
    import pickle

    from flow.errors import VhflowError

    try:
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        data = pickle.dumps((False, VhflowError(f"{type(exc).__name__}: {exc}")))
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def run_isolated(func: Callable[..., Any], args: tuple, *, what: str, path: Path | None, timeout_s: float,
                 memory_bytes: int = 2 << 30) -> Any:
    """`func(*args, progress=...)` in a forked child with a memory cap and a watchdog.

    Why: an interpreter evaluating untrusted input (the SDC's Tcl) can be made to loop inside C
    (`expr {2**100000000}`) or to allocate gigabytes, where no Python or Tcl limit reaches; in a
    child the worst case is a FormatError naming the file and the line it was on. `progress(line)`
    records the line being evaluated. Runs inline where `fork` is missing or VHFLOW_NO_FORK is set.
    """
    import mmap
    import pickle
    import resource
    import select
    import signal
    import struct
    import time

    from flow.errors import FormatError

    if not hasattr(os, "fork") or os.environ.get("VHFLOW_NO_FORK"):
        return func(*args)
    shared = mmap.mmap(-1, 8)

    def progress(line: int) -> None:
        shared[:8] = struct.pack("q", line)

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process
        status = 0
        try:
            os.close(r)
            try:
                with open("/proc/self/statm") as fh:
                    vm = int(fh.read().split()[0]) * resource.getpagesize()
                resource.setrlimit(resource.RLIMIT_AS, (vm + memory_bytes, resource.RLIM_INFINITY))
            except (OSError, ValueError):
                pass
            try:
                outcome = (True, func(*args, progress=progress))
            except Exception as exc:
                outcome = (False, exc)
            send_outcome(w, outcome)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(w)
    chunks: list[bytes] = []
    last_line, last_change = -1, time.monotonic()
    try:
        while True:
            ready, _, _ = select.select([r], [], [], 0.1)
            if ready:
                data = os.read(r, 1 << 20)
                if not data:
                    break
                chunks.append(data)
                continue
            line = struct.unpack("q", shared[:8])[0]
            now = time.monotonic()
            if line != last_line:
                last_line, last_change = line, now
            elif now - last_change > timeout_s:
                os.kill(pid, signal.SIGKILL)
                raise FormatError(path, line or None, f"{what}: evaluation did not finish in {timeout_s:g} s")
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
        raise
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        line = struct.unpack("q", shared[:8])[0]
        why = "ran out of memory" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGABRT else (
            f"died (wait status {status})")
        raise FormatError(path, line or None, f"{what}: evaluation {why}")
    ok, value = pickle.loads(b"".join(chunks))
    if not ok:
        raise value
    return value



def lazy_import(name: str) -> Any:
    """`name` as a module object whose code runs on first attribute access.

    Why: plugins are imported at every `vhflow` start (entry points), but most commands never
    touch their engines; deferring numpy/scipy/numba keeps `vhflow --help` fast. Uses the
    standard library's `importlib.util.LazyLoader`; a module already imported is returned as is.
    A dotted name (`scipy.sparse`) imports its parent packages at once (`find_spec` must), so
    defer those with an import inside the function instead."""
    import importlib.util
    import sys

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
