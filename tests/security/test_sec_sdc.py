"""SDC is data: the safe interpreter runs no command outside the SDC set, and stops endless loops."""

from __future__ import annotations

import time

import numpy as np
import pytest

from flow.engines.model import FlatDesign
from flow.errors import FormatError
from flow.formats.sdc import read_sdc


def _design() -> FlatDesign:
    e = np.zeros(0, dtype=np.int64)
    return FlatDesign([], [], np.zeros(1, dtype=np.int64), e, [], e, [], ["clk", "a"], ["input", "input"],
                      np.array([0, 1], dtype=np.int64))


def _read(tmp_path, text: str | bytes):
    p = tmp_path / "t.sdc"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return read_sdc(p, _design())


@pytest.mark.parametrize("command", [
    "exec touch {f}", "open {f} w", "file delete {f}", "source {f}", "socket localhost 80", "load {f}",
    "interp create x", "cd /", "glob *", "exit 3",
])
def test_no_command_reaches_outside(tmp_path, command):
    target = tmp_path / "PWNED"
    with pytest.raises(FormatError, match=r"t\.sdc:3: \w+ is not allowed in an SDC"):
        _read(tmp_path, "set a 1\n\n" + command.format(f=target) + "\n")
    assert not target.exists()


def test_injection_inside_a_command_substitution(tmp_path):
    target = tmp_path / "PWNED"
    with pytest.raises(FormatError, match=r"t\.sdc:2: exec is not allowed"):
        _read(tmp_path, f"create_clock -period 2 [get_ports clk]\nset_load [exec touch {target}] a\n")
    assert not target.exists()


def test_endless_loop_stops_with_its_line(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(FormatError, match=r"t\.sdc:3: SDC command did not finish in 2 s"):
        _read(tmp_path, "set a 1\n\nforeach x {1 2} {\n  while {1} {}\n}\n")
    assert time.monotonic() - t0 < 8.0  # 2 s budget, plus a fork on a loaded machine


def test_constraints_still_evaluate(tmp_path):
    tc = _read(tmp_path, b"# caf\xe9 (Latin-1 comment)\nset p 2.5\ncreate_clock -name c -period [expr {$p * 2}] "
               b"[get_ports clk]\nset_input_delay 0.1 -clock c [lsearch -inline -all -not -exact [all_inputs] clk]\n"
               b"puts hello\n")
    assert tc.clocks[0].period == pytest.approx(5e-9)
    assert [d.port for d in tc.input_delays] == ["a"]
    assert any("t.sdc:5: puts" in w for w in tc.warnings)


@pytest.mark.parametrize(("text", "message"), [
    ("create_clock -period 0 [get_ports clk]", r"t\.sdc:1: create_clock -period must be > 0, got 0"),
    ("create_clock -period -1 [get_ports clk]", r"t\.sdc:1: create_clock -period must be > 0, got -1"),
    ("create_clock -period nan [get_ports clk]", r"t\.sdc:1: create_clock -period: 'nan' is not a finite number"),
    ("set_load -3 [get_ports a]", r"t\.sdc:1: set_load must be >= 0, got -3"),
    ("create_clock -name", r"t\.sdc:1: option -name needs a value"),
    ("\nset a {", r"t\.sdc:2: SDC error: missing close-brace"),
])
def test_bad_values_name_the_line(tmp_path, text, message):
    with pytest.raises(FormatError, match=message):
        _read(tmp_path, text + "\n")
