"""DEF reader: our writer's output read back exactly, OpenROAD-style DEF, the placed DEF of a run
against its placement arrays, and broken DEF with file:line."""

from __future__ import annotations

import numpy as np
import pytest

from flow.errors import FormatError
from flow.formats.deflib import read_def, write_def
from flow.runner import run_flow
from tests.conftest import DESIGNS


def test_written_def_reads_back(tmp_path):
    p = tmp_path / "a.def"
    xy = np.array([[1.52e-6, 2.8e-6], [3.04e-6, 5.6e-6], [0.0, 0.0]])
    write_def(p, "top", 2000, (0, 0, 20e-6, 30e-6),
              [("ROW_0", "core", 1e-6, 1.4e-6, 100, 0.19e-6)],
              [("u1", "INV_X1"), ("u 2;x", "NAND2_X1"), ("r[3]", "DFF_X1")], xy,
              [("clk", "input", 0.0, 10e-6), ("q[0]", "output", 20e-6, 5e-6)],
              nets=[("n1", [("u1", "ZN"), ("u 2;x", "A1")]), ("clk", [("PIN", "clk"), ("r[3]", "CK")])],
              regions=[("isl0", [(1e-6, 1e-6, 10e-6, 10e-6), (10e-6, 1e-6, 12e-6, 4e-6)], ["u1", "u 2;x"])],
              tracks=[("X", 0.095e-6, 105, 0.19e-6, ["metal1"]), ("Y", 0.07e-6, 214, 0.14e-6, ["metal2", "metal3"])])
    d = read_def(p)
    assert d.design == "top" and d.dbu == 2000
    assert d.die == pytest.approx((0, 0, 20e-6, 30e-6))
    assert d.rows == [("ROW_0", "core", pytest.approx(1e-6), pytest.approx(1.4e-6), "N", 100, 1,
                       pytest.approx(0.19e-6), 0.0)]
    assert [(t[0], t[2], t[4]) for t in d.tracks] == [("X", 105, ["metal1"]), ("Y", 214, ["metal2", "metal3"])]
    assert d.tracks[1][3] == pytest.approx(0.14e-6)
    assert [(c.name, c.macro, c.status, c.orient) for c in d.components] == [
        ("u1", "INV_X1", "PLACED", "N"), ("u 2;x", "NAND2_X1", "PLACED", "N"), ("r[3]", "DFF_X1", "PLACED", "N")]
    assert np.allclose([[c.x, c.y] for c in d.components], xy, atol=0.5e-9)
    assert [(q.name, q.net, q.direction, q.layer) for q in d.pins] == [
        ("clk", "clk", "INPUT", "metal3"), ("q[0]", "q[0]", "OUTPUT", "metal3")]
    assert d.pins[1].x == pytest.approx(20e-6)
    assert d.nets == [("n1", [("u1", "ZN"), ("u 2;x", "A1")]), ("clk", [("PIN", "clk"), ("r[3]", "CK")])]
    assert d.regions[0][0] == "isl0" and d.regions[0][2] == "FENCE"
    assert d.regions[0][1][1] == pytest.approx((10e-6, 1e-6, 12e-6, 4e-6))
    assert d.groups == [("g_isl0", ["u1", "u 2;x"], "isl0")]


OPENROAD_DEF = """VERSION 5.8 ;
DIVIDERCHAR "/" ;
BUSBITCHARS "[]" ;
DESIGN gcd ;
UNITS DISTANCE MICRONS 2000 ;
DIEAREA ( 0 0 ) ( 200260 201600 ) ;
ROW ROW_0 FreePDK45_38x28_10R_NP_162NW_34O 20140 22400 FS DO 422 BY 1 STEP 380 0 ;
TRACKS X 190 DO 527 STEP 380 LAYER metal1 ;
COMPONENTS 3 ;
    - PHY_0 TAPCELL_X1 + SOURCE DIST + FIXED ( 20140 22400 ) FS ;
    - _371_ NAND2_X1 + PLACED ( 74480 50400 ) N ;
    - \\ctrl.state\\[1\\] DFF_X1 + UNPLACED ;
END COMPONENTS
PINS 1 ;
    - clk + NET clk + DIRECTION INPUT + USE SIGNAL
      + PORT
        + LAYER metal2 ( -70 -70 ) ( 70 70 )
        + PLACED ( 100130 201530 ) S ;
END PINS
SPECIALNETS 1 ;
    - VDD ( * VDD ) + USE POWER ;
END SPECIALNETS
NETS 1 ;
    - clk ( PIN clk ) ( _371_ A1 ) + USE CLOCK ;
END NETS
END DESIGN
"""


def test_openroad_style_def(tmp_path):
    p = tmp_path / "or.def"
    p.write_text(OPENROAD_DEF)
    d = read_def(p)
    tap, nand, ff = d.components
    assert (tap.status, tap.orient, tap.x) == ("FIXED", "FS", pytest.approx(10.07e-6))
    assert (nand.status, nand.x, nand.y) == ("PLACED", pytest.approx(37.24e-6), pytest.approx(25.2e-6))
    assert ff.name == "ctrl.state[1]" and ff.status == "UNPLACED" and ff.x is None
    assert d.pins[0].layer == "metal2" and d.pins[0].y == pytest.approx(100.765e-6)
    assert d.nets == [("clk", [("PIN", "clk"), ("_371_", "A1")])]
    assert d.rows[0][4] == "FS" and d.rows[0][5] == 422


@pytest.mark.parametrize("text, line, message", [
    (OPENROAD_DEF.replace("( 74480 50400 ) N ;", "( 74480 50400 ) N"), 11, "no ';' before the next"),
    (OPENROAD_DEF.replace("DIEAREA ( 0 0 ) ( 200260 201600 )", "DIEAREA ( 0 0 ) ( 2002x60 201600 )"), 6,
     "expected a number"),
    ("VERSION 5.8 ;\nUNITS DISTANCE MICRONS 1000 ;\n", 1, "no DESIGN"),
    ("DESIGN a ;\nCOMPONENTS 1 ;\n - u1 INV_X1 + PLACED ( 1 2 ) N\n", 3, "no ';'"),
])
def test_broken_def_names_line(tmp_path, text, line, message):
    p = tmp_path / "bad.def"
    p.write_text(text)
    with pytest.raises(FormatError, match=message) as exc:
        read_def(p)
    assert exc.value.line == line and exc.value.path == p


def test_run_placement_def_matches_arrays(tmp_path, nangate45):
    res = run_flow(DESIGNS / "gcd/config.toml", runs_dir=tmp_path, tag="d", to_stage="place")
    place = next(res.run_dir.glob("*_place"))
    d = read_def(place / "gcd.place.def")
    npz = np.load(place / "placement.npz")
    taps = [c for c in d.components if c.status == "FIXED"]
    assert len(taps) == res.metrics["floorplan__design__tapcells"] == len(npz["tap_x"]) > 0
    assert {c.macro for c in taps} == {"TAPCELL_X1"}
    d.components = [c for c in d.components if c.status != "FIXED"]
    assert [c.name for c in d.components] == [str(n) for n in npz["inst_names"]]
    assert [c.macro for c in d.components] == [str(n) for n in npz["cell"]]
    assert np.allclose([c.x for c in d.components], npz["x"], atol=1e-9)
    assert np.allclose([c.y for c in d.components], npz["y"], atol=1e-9)
    assert d.die == pytest.approx(tuple(npz["die"]), abs=1e-9)
    assert len(d.pins) == len(npz["pin_names"])
