"""Without SPEF, nets are estimated from the Liberty wire-load model as OpenSTA does: the
fanout->length table by hand, and timing and power against OpenSTA 3.1 on the same files
with no `read_spef` (the SDC's `set_wire_load_model`, as OpenSTA 3.1 applies it)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from flow.engines import sta
from flow.engines.parasitics import WireLoad
from flow.errors import ConfigError
from flow.formats.liberty import read_liberty
from tests.signoff.opensta import run_sta, synth_nangate
from tests.signoff.test_sta_opensta import RTL, SDC

TOL = 5e-12  # 5 ps, the bound


@pytest.fixture(scope="module")
def nangate(tmp_path_factory, nangate45):
    d = tmp_path_factory.mktemp("wl")
    src = Path(nangate45.corner("typical").liberty[0])
    lib = d / "typ.lib"
    lib.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
    net = synth_nangate(RTL, "top", lib, d)
    (d / "top.sdc").write_text(SDC)
    return d, lib, net


def test_fanout_length_table_by_hand(nangate):
    """Nangate45 typical `5K_hvratio_1_1`: capacitance 0.1774 fF and resistance 3.571429 ohm per
    unit length, slope 5, fanout_length (1, 1.7460) ... (9, 25.4842) (11, 27.0320)."""
    _, lib, _ = nangate
    wl = WireLoad.from_library(read_liberty(lib))
    assert wl.name == "5K_hvratio_1_1" and wl.tree == "balanced_tree"
    assert wl.cap_per_length == pytest.approx(0.1774e-15) and wl.res_per_length == pytest.approx(3.571429)
    got = wl.length(np.array([0, 1, 2, 10, 11, 13]))
    # 0: below the table, 1.746 - 1 * 5 < 0 -> 0; 10: halfway 9 -> 11; 13: 27.032 + 2 * 5
    assert got == pytest.approx([0.0, 1.746, 3.9394, (25.4842 + 27.032) / 2, 27.032, 37.032])
    with pytest.raises(ConfigError, match="wire load model 'nope' is not in the library"):
        WireLoad.from_library(read_liberty(lib), "nope")


def _script(d: Path, lib: Path, net: Path, sdc: str) -> str:
    (d / "wl.sdc").write_text(sdc)
    return (f"read_liberty {lib}\nread_verilog {net}\nlink_design top\nread_sdc {d / 'wl.sdc'}\n"
            "report_checks -path_delay max -digits 6\nreport_checks -path_delay min -digits 6\n"
            "report_tns -digits 6\nset_power_activity -global -activity 0.2 -duty 0.5\nreport_power -digits 8\n")


WLM = "set_wire_load_model -name 1K_hvratio_1_4\n"


@pytest.mark.parametrize("extra", ["", WLM])
def test_wire_load_timing_matches_opensta(nangate, extra):
    """OpenSTA 3.1 uses a wire-load model only when the SDC names one (the Liberty
    `default_wire_load` is ignored); we do the same by default."""
    d, lib, net = nangate
    from flow.stages.signoff import run_signoff

    library = sta.load_liberty(lib)
    (d / "wl.sdc").write_text(SDC + extra)
    res = run_signoff([net], "top", {"typ": library}, d / "wl.sdc", do_power=False)
    t = res.timing["typ"]
    ref = run_sta(_script(d, lib, net, SDC + extra), d)
    setup, hold = ref.slacks()
    assert abs(t.setup_wns - setup * 1e-9) < TOL
    assert abs(t.hold_wns - hold * 1e-9) < TOL
    none = run_signoff([net], "top", {"typ": library}, d / "wl.sdc", do_power=False, wire_load="none").timing["typ"]
    lib_wl = run_signoff([net], "top", {"typ": library}, d / "wl.sdc", do_power=False,
                         wire_load="library").timing["typ"]
    assert lib_wl.setup_wns < none.setup_wns - 10e-12  # the library's 5K_hvratio_1_1 is heavier
    if extra:  # the estimate matters: without it the slacks move
        assert none.setup_wns > t.setup_wns + 10e-12
    else:
        assert t.setup_wns == none.setup_wns


def test_wire_load_power_matches_opensta(nangate):
    d, lib, net = nangate
    from flow.stages.signoff import run_signoff

    library = sta.load_liberty(lib)
    (d / "wl.sdc").write_text(SDC + WLM)
    res = run_signoff([net], "top", {"typ": library}, d / "wl.sdc", global_activity=(0.2, 0.5))
    p = res.power["typ"].groups_sta2019()
    rp = run_sta(_script(d, lib, net, SDC + WLM), d).power()
    tot = sum(p[g]["total"] for g in ("Sequential", "Combinational"))
    assert tot == pytest.approx(rp["Total"][3], rel=0.02)  # the goal
    for g in ("Sequential", "Combinational"):
        assert p[g]["switching"] == pytest.approx(rp[g][1], rel=0.05), g
    none = run_signoff([net], "top", {"typ": library}, d / "wl.sdc", global_activity=(0.2, 0.5), wire_load="none")
    pz = none.power["typ"].groups_sta2019()
    assert sum(pz[g]["switching"] for g in pz) < 0.9 * sum(p[g]["switching"] for g in p)


def test_sky130_wire_load_matches_opensta(tmp_path, sky130hd):
    """sky130 `Small` named in the SDC (pF units, 74.5 ohm per unit length: the Elmore term
    matters)."""
    from flow.stages.signoff import run_signoff

    src = Path(sky130hd.corner(sky130hd.default_corner).liberty[0])
    lib = tmp_path / "sky.lib"
    lib.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
    net = synth_nangate(RTL.replace("ra * rb + ", ""), "top", lib, tmp_path)
    sdc = SDC.replace("0.9", "1.5").replace("set_load 3.0", "set_load 0.004") + "set_wire_load_model -name Small\n"
    (tmp_path / "wl.sdc").write_text(sdc)
    library = sta.load_liberty(lib)
    assert WireLoad.from_library(library).res_per_length == pytest.approx(74.5)
    res = run_signoff([net], "top", {"tt": library}, tmp_path / "wl.sdc", do_power=False)
    t = res.timing["tt"]
    ref = run_sta(_script(tmp_path, lib, net, sdc), tmp_path)
    setup, hold = ref.slacks()
    assert abs(t.setup_wns - setup * 1e-9) < TOL
    assert abs(t.hold_wns - hold * 1e-9) < TOL
