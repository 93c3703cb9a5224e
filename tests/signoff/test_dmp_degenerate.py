"""DMP effective capacitance on a degenerate RC net: a driver whose slew table gives a zero ramp
(a star-RC net seen as C2 ~ 0, the one-pole branch). OpenSTA's C++ gets inf/NaN there, its
Newton iteration fails and it falls back to the table delay at the lumped C1; the compiled
kernel once raised ZeroDivisionError instead (mac_array 8x8 with a star-RC SPEF, commit c48b0e9)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flow.engines import dmp


def _tables() -> tuple[np.ndarray, ...]:
    """Two 2x2 NLDM tables over (input slew, load): 0 = delay 10 ps + 1 kohm x load, 1 = slew 0."""
    ax1 = np.array([[0.0, 1e-9], [0.0, 1e-9]])
    ax2 = np.array([[0.0, 1e-13], [0.0, 1e-13]])
    vals = np.zeros((2, 2, 2))
    vals[0] = 10e-12 + 1e3 * ax2[0][None, :]
    n = np.array([2, 2], dtype=np.int64)
    return ax1, ax2, vals, n, n.copy(), np.zeros(2, dtype=np.int64), np.ones(2, dtype=np.int64)


@pytest.mark.parametrize("c2", [0.0, 1e-18])
def test_zero_driver_ramp_falls_back_to_table_at_c1(c2):
    s = np.zeros(dmp.STATE)
    c1, rpi = 10e-15, 100.0
    d, sl = dmp.gate(s, _tables(), 0, 1, 20e-12, c2, rpi, c1, 0.5, 0.3, 0.7, 1.0)
    assert s[dmp.ALG] == dmp.ZEROC2 and s[dmp.VALID] == 0.0  # the one-pole branch, Newton failed
    assert s[dmp.RD] == pytest.approx(-math.log(0.5) * 1e3, rel=1e-6)  # delay slope 1 kohm
    assert d == pytest.approx(10e-12 + 1e3 * c1, rel=1e-12) and sl == 0.0
    wd, ws = dmp.load(s, 3e-12)  # each load: its Elmore delay and the driver slew
    assert (wd, ws) == (3e-12, 0.0)
