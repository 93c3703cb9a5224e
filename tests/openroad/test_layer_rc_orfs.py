"""Layer RC as ORFS: the platform TOMLs, the wire RC the embedded flow times with, and the
`set_layer_rc` / `set_wire_rc` commands the OpenROAD scripts emit all equal ORFS's own
`platforms/<platform>/setRC.tcl` (the reference copy in ../shared/reference/orfs).

setRC.tcl is evaluated in the Tcl harness (tests/openroad/tclstub.py), whose stubs check every
command against OpenROAD's synopses in openroad-commands.txt, so both scripts are read the
same way and both must be commands OpenROAD accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from flow.backends import openroad
from tests.conftest import unavailable
from tests.openroad.tclstub import Session
from tests.openroad.test_render import UNITS, setup_for

ORFS_PLATFORMS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "orfs" / "platforms"


def _rc_calls(run) -> tuple[dict[str, tuple[float | None, float | None]], dict[str, float], dict[bool, str]]:
    """(layer -> (resistance, capacitance), via -> resistance, clock? -> wire layer) in the
    script's (Liberty) units."""
    layers, vias, wire = {}, {}, {}
    for c in run.of("set_layer_rc"):
        r = float(c.keys["-resistance"]) if "-resistance" in c.keys else None
        if "-via" in c.keys:
            vias[c.keys["-via"]] = r
        else:
            layers[c.keys["-layer"]] = (r, float(c.keys["-capacitance"]) if "-capacitance" in c.keys else None)
    for c in run.of("set_wire_rc"):
        wire["-clock" in c.flags] = c.keys["-layer"]
    return layers, vias, wire


@pytest.mark.parametrize("platform_name", ["nangate45", "sky130hd"])
def test_layer_rc_equals_orfs_setrc(platform_name, tmp_path, request):
    request.getfixturevalue(platform_name)  # skips (fails under CI=true) without the PDK
    set_rc = ORFS_PLATFORMS / platform_name / "setRC.tcl"
    if not set_rc.exists():
        unavailable(f"no ORFS reference {set_rc}")
    orfs_layers, orfs_vias, orfs_wire = _rc_calls(Session().source(set_rc))
    assert len(orfs_layers) >= 5 and set(orfs_wire) == {False, True}  # the file was read

    setup = setup_for(platform_name)
    plat = setup.platform
    units = UNITS[platform_name]
    # the platform (what the embedded flow's RC trees use), converted to setRC's Liberty units
    assert set(plat.layers) == set(orfs_layers)
    for name, (r, c) in orfs_layers.items():
        lay = plat.layers[name]
        assert lay.r_per_m * 1e-6 / units["res_ohm"] == pytest.approx(r, rel=1e-9), name
        assert lay.c_per_m * 1e-6 / units["cap_f"] == pytest.approx(c, rel=1e-9), name
    assert {False: plat.signal_wire_layer, True: plat.clock_wire_layer} == orfs_wire
    # the embedded flow's signal/clock wires are those layers' values (met1 on sky130hd: 1.20565 ohm/um)
    assert plat.signal_layer.r_per_m == pytest.approx(orfs_layers[orfs_wire[False]][0] * units["res_ohm"] * 1e6)
    assert plat.clock_layer.c_per_m == pytest.approx(orfs_layers[orfs_wire[True]][1] * units["cap_f"] * 1e6)
    assert {k: v / units["res_ohm"] for k, v in openroad.via_resistances(plat).items()} == pytest.approx(orfs_vias)

    # every OpenROAD script that times emits the same commands with the same numbers
    files = openroad.render(setup.config, plat, tmp_path / "or")
    session = Session()
    runs = {stage: session.source(files[stage]) for stage in openroad.STAGES}
    timed = [s for s, r in runs.items() if r.of("set_layer_rc")]
    assert {"place", "cts", "route"} <= set(timed)
    for stage in timed:
        layers, vias, wire = _rc_calls(runs[stage])
        assert set(layers) == set(orfs_layers) and wire == orfs_wire, stage
        for name, (r, c) in orfs_layers.items():
            assert layers[name][0] == pytest.approx(r, rel=1e-6) and layers[name][1] == pytest.approx(c, rel=1e-6)
        assert vias == pytest.approx(orfs_vias, rel=1e-6)
