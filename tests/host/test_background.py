"""Reading a netlist in a forked child (flow.background) gives the same design as reading it
here, carries the reader's error (file and line) back, and leaves no process behind; the
collector pause around the readers nests and always resumes."""

from __future__ import annotations

import gc
import os
import time

import numpy as np
import pytest
from test_formats_core import NETLIST, _connectivity  # same folder (rootdir-style import)

from flow import background
from flow.background import Pending, worth_forking
from flow.engines import sta
from flow.errors import FormatError, VhflowError
from flow.formats.verilog import read_verilog
from flow.util import gc_paused

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _same(a, b) -> None:
    for f in a.__dataclass_fields__:
        x, y = getattr(a, f), getattr(b, f)
        assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y, f


def test_forked_read_equals_inline_read(tmp_path):
    p = tmp_path / "n.v"
    p.write_text(NETLIST)
    here = read_verilog([p], "top")
    _same(Pending(read_verilog, [p], "top", fork=True).result(), here)
    _same(Pending(read_verilog, [p], "top", fork=False).result(), here)


def test_forked_error_names_file_and_line(tmp_path):
    p = tmp_path / "bad.v"
    p.write_text("// header\n\nmodule top (a);\n  input a;\n")
    job = Pending(read_verilog, [p], "top", fork=True)
    with pytest.raises(FormatError) as exc:
        job.result()
    assert exc.value.path == p and exc.value.line == 3
    assert str(exc.value).startswith(f"{p}:3: module top has no endmodule")


def _die() -> None:
    os._exit(3)


def test_a_child_that_dies_is_one_clear_error():
    with pytest.raises(VhflowError, match="background reader died"):
        Pending(_die, fork=True).result()


def test_cancel_stops_the_child():
    job = Pending(time.sleep, 60, fork=True)
    pid = job._pid
    t0 = time.perf_counter()
    job.cancel()
    assert time.perf_counter() - t0 < 5
    with pytest.raises(ChildProcessError):  # reaped: no zombie left
        os.waitpid(pid, os.WNOHANG)


def test_worth_forking_needs_cpus_and_size(tmp_path, monkeypatch):
    p = tmp_path / "n.v"
    p.write_text(NETLIST)
    monkeypatch.setattr(background, "_cpus", lambda: 2)
    monkeypatch.delenv("VHFLOW_NO_FORK", raising=False)
    assert not worth_forking([p])  # small: read inline
    monkeypatch.setattr(background, "MIN_FORK_BYTES", 1)
    assert worth_forking([p])
    assert not worth_forking([tmp_path / "missing.v"])  # the reader reports it, here
    monkeypatch.setenv("VHFLOW_NO_FORK", "1")
    assert not worth_forking([p])
    monkeypatch.delenv("VHFLOW_NO_FORK")
    monkeypatch.setattr(background, "_cpus", lambda: 1)
    assert not worth_forking([p])


def test_load_design_async_forks_for_big_netlists(tmp_path, monkeypatch):
    p = tmp_path / "n.v"
    p.write_text(NETLIST)
    monkeypatch.setattr(background, "MIN_FORK_BYTES", 1)
    monkeypatch.setattr(background, "_cpus", lambda: 2)
    monkeypatch.delenv("VHFLOW_NO_FORK", raising=False)
    job = sta.load_design_async([p], "top")
    assert job._pid is not None  # really in a child
    d = job.result()
    assert _connectivity(d) == _connectivity(read_verilog([p], "top"))


def test_gc_paused_nests_and_resumes():
    seen = []

    @gc_paused
    def inner() -> None:
        seen.append(gc.isenabled())

    @gc_paused
    def outer() -> None:
        inner()
        seen.append(gc.isenabled())

    @gc_paused
    def fails() -> None:
        raise ValueError("x")

    assert gc.isenabled()
    outer()
    assert seen == [False, False] and gc.isenabled()
    with pytest.raises(ValueError):
        fails()
    assert gc.isenabled()
