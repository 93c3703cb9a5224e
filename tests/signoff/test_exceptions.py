"""SDC exceptions (false path, max delay, clock uncertainty split) against OpenSTA."""

from __future__ import annotations

import pytest

from tests.signoff.handlib import write_lib
from tests.signoff.opensta import ours_and_opensta
from tests.signoff.test_sta_hand import NETLIST, SDC


@pytest.mark.parametrize("extra", [
    "set_false_path -to [get_ports out1]\n",
    "set_false_path -from [get_ports in1]\n",
    "set_max_delay 0.05 -to [get_pins r2/D]\n",
    "set_clock_uncertainty -setup 0.07 [get_clocks clk]\nset_clock_uncertainty -hold 0.02 [get_clocks clk]\n",
])
def test_exceptions_match_opensta(tmp_path, extra):
    lib = write_lib(tmp_path / "hand.lib")
    t, ref = ours_and_opensta(tmp_path, lib, NETLIST, SDC + extra)
    setup, hold = ref.slacks()
    assert t.setup_wns == pytest.approx(setup * 1e-9, abs=1e-15)
    assert t.hold_wns == pytest.approx(hold * 1e-9, abs=1e-15)
