"""The DEF we write loads in KLayout (the `klayout` wheel) with the platform LEFs."""

from __future__ import annotations

import gzip

import pytest

from flow.runner import run_flow
from tests.conftest import DESIGNS


def test_placed_def_loads_in_klayout(tmp_path, nangate45):
    kdb = pytest.importorskip("klayout.db")
    res = run_flow(DESIGNS / "gcd/config.toml", runs_dir=tmp_path, tag="k", to_stage="place")
    placed = next(res.run_dir.glob("*_place/gcd.place.def"))
    lefs = []
    for src in [nangate45.tech_lef, *nangate45.cell_lefs]:
        dst = tmp_path / src.name.removesuffix(".gz")
        dst.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
        lefs.append(str(dst))
    layout = kdb.Layout()
    opt = kdb.LoadLayoutOptions()
    cfg = opt.lefdef_config
    cfg.lef_files = lefs
    cfg.read_lef_with_def = False
    opt.lefdef_config = cfg
    layout.read(str(placed), opt)
    top = layout.top_cell()
    assert top.name == "gcd"
    n_inst = sum(1 for _ in top.each_inst())
    taps = res.metrics["floorplan__design__tapcells"]
    assert taps > 0  # Nangate45 asks for well taps every 120 µm
    assert n_inst == res.metrics["synth__design__instance__count__stdcell"] + taps
    die = top.dbbox()
    assert die.width() > 0 and die.height() > 0
