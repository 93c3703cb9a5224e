"""Run one function in a forked child process while this one keeps working.

Why: sign-off reads a large netlist (pure-Python parsing, GIL-bound) and the Liberty files and
compiled kernels, which are independent; on a two-core machine reading the netlist in a child
takes it off the critical path (benchmarks/bench_sta.py). A fork shares the parent's imports,
so the child starts in milliseconds; its result comes back pickled through a pipe.

The child is only used where `fork` exists, more than one CPU is available and the input is
large enough to pay for the pickling (`worth_forking`); otherwise the function runs inline.
The child runs no user-provided shell; it only calls the given function.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from flow.errors import VhflowError
from flow.util import send_outcome

T = TypeVar("T")

#: inputs smaller than this (bytes) are read inline: pickling the result back costs about as
#: much as parsing a file of a few MB
MIN_FORK_BYTES = 4 << 20


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def worth_forking(paths: Sequence[Path | str]) -> bool:
    """True when a child process would shorten reading `paths` (several CPUs, big files)."""
    if not hasattr(os, "fork") or _cpus() < 2 or os.environ.get("VHFLOW_NO_FORK"):
        return False
    total = 0
    for p in paths:
        try:
            total += Path(p).stat().st_size
        except OSError:
            return False  # let the reader report the missing file in this process
    return total >= MIN_FORK_BYTES


def _call(func: Callable[..., T], args: tuple) -> tuple[bool, Any]:
    try:
        return True, func(*args)
    except Exception as exc:  # carried to the parent, raised by `result()`
        return False, exc


class Pending(Generic[T]):
    """`func(*args)` computed in a forked child (or inline); `result()` returns it or raises
    what it raised. Call `cancel()` when the result will not be collected."""

    def __init__(self, func: Callable[..., T], *args: Any, fork: bool = True) -> None:
        self._pid: int | None = None
        self._fd = -1
        self._outcome: tuple[bool, Any] | None = None
        if not fork:
            self._outcome = _call(func, args)
            return
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child process (coverage does not follow forks)
            status = 0
            try:
                os.close(r)
                send_outcome(w, _call(func, args))
            except BaseException:
                status = 1
            finally:
                os._exit(status)
        os.close(w)
        self._pid, self._fd = pid, r

    def result(self) -> T:
        if self._outcome is None:
            assert self._pid is not None
            try:
                with os.fdopen(self._fd, "rb") as f:
                    data = f.read()
            finally:
                _, status = os.waitpid(self._pid, 0)
                self._pid = None
            if not data:
                raise VhflowError(f"the background reader died (wait status {status})")
            self._outcome = pickle.loads(data)
        ok, value = self._outcome
        if not ok:
            raise value
        return value

    def cancel(self) -> None:
        """Stop the child (if still running) and release its pipe."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            os.close(self._fd)
            self._pid = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.cancel()
