"""Platform discovery: search order, .gz or plain files, and missing-file errors."""

from __future__ import annotations

import shutil

import pytest

from flow.errors import ConfigError, PlatformError
from flow.platform import load_platform, platform_search_path


def test_builtin_platforms_resolve(nangate45, sky130hd):
    assert nangate45.corner().voltage == pytest.approx(1.10)
    assert nangate45.corner("slow").temperature == pytest.approx(125.0)
    assert nangate45.site.width == pytest.approx(0.19e-6) and nangate45.site.height == pytest.approx(1.4e-6)
    # ORFS setRC.tcl metal3: 3.57147E-03 kOhm/um, 1.03981E-01 fF/um
    assert nangate45.signal_layer.r_per_m == pytest.approx(3.57147e6)
    assert nangate45.signal_layer.c_per_m == pytest.approx(1.03981e-10)
    volts = [c.voltage for c in sky130hd.corners_by_voltage("slow")]
    assert volts == pytest.approx([1.28, 1.35, 1.40, 1.44, 1.76])
    assert sky130hd.is_dont_use("sky130_fd_sc_hd__lpflow_isobufsrc_1")
    assert not sky130hd.is_dont_use("sky130_fd_sc_hd__inv_1")


def test_env_search_path_first_and_plain_files(tmp_path, monkeypatch, nangate45):
    # A copy with plain (decompressed) Liberty files in a VHFLOW_PLATFORMS directory wins.
    import gzip

    root = tmp_path / "platforms" / "nangate45"
    (root / "lib").mkdir(parents=True)
    shutil.copytree(nangate45.root / "lef", root / "lef")
    for c in nangate45.corners.values():
        with gzip.open(c.liberty[0]) as src:
            (root / "lib" / c.liberty[0].name.removesuffix(".gz")).write_bytes(src.read())
    monkeypatch.setenv("VHFLOW_PLATFORMS", str(tmp_path / "platforms"))
    assert platform_search_path()[0] == tmp_path / "platforms"
    plat = load_platform("nangate45")
    assert plat.root == root and not plat.missing_files()
    assert plat.corner().liberty[0].suffix == ".lib"


def test_missing_file_is_one_error(tmp_path, monkeypatch, nangate45):
    root = tmp_path / "nangate45"
    shutil.copytree(nangate45.root / "lef", root / "lef")
    monkeypatch.setenv("VHFLOW_PLATFORMS", str(tmp_path))
    plat = load_platform("nangate45")
    with pytest.raises(PlatformError, match=r"missing PDK file\(s\) under .*lib/NangateOpenCellLibrary_typical.lib"):
        plat.require_files()


def test_unknown_platform_and_corner(nangate45):
    with pytest.raises(ConfigError, match="unknown platform 'gf180'"):
        load_platform("gf180")
    with pytest.raises(ConfigError, match="unknown corner 'ss'"):
        nangate45.corner("ss")


def test_sky130_tree_with_only_tt(tmp_path, monkeypatch, sky130hd):
    # ORFS sky130hd ships only tt_025C_1v80: sign-off there; multi-voltage says what it needs.
    root = tmp_path / "sky130hd"
    (root / "lib").mkdir(parents=True)
    shutil.copytree(sky130hd.root / "lef", root / "lef")
    tt = sky130hd.corners["tt_025C_1v80"].liberty[0]
    (root / "lib" / tt.name).symlink_to(tt)
    monkeypatch.setenv("VHFLOW_PLATFORMS", str(tmp_path))
    plat = load_platform("sky130hd")
    plat.require_files()
    assert list(plat.corners) == ["tt_025C_1v80"] and len(plat.absent_corners) == len(sky130hd.corners) - 1
    with pytest.raises(PlatformError, match="needs Liberty corners at 2 supply voltages"):
        plat.require_voltages(2, "FINE-VH")


def test_inventory_json(capsys):
    import json

    from flow.cli import main

    def run(*argv):
        with pytest.raises(SystemExit) as e:
            main(list(argv))
        return e.value.code, capsys.readouterr()

    rc, out = run("platforms", "--json")
    doc = json.loads(out.out)
    assert rc == 0 and doc["units"]["voltage_v"] == "V"
    nangate = next(p for p in doc["platforms"] if p["name"] == "nangate45")
    typical = next(c for c in nangate["corners"] if c["name"] == "typical")
    assert typical["voltage_v"] == pytest.approx(1.10) and nangate["site"]["width_um"] == pytest.approx(0.19)
    rc, out = run("plugins", "--json")
    stages = [s["id"] for s in json.loads(out.out)["stages"]]
    assert rc == 0 and stages[0] == "synth" and "signoff" in stages
    rc, out = run("variables", "--stage", "floorplan", "--json")
    names = {v["name"]: v for v in json.loads(out.out)["variables"]}
    assert rc == 0 and "CORE_UTILIZATION" in names and "PLACE_DENSITY" not in names
    assert names["CORE_AREA"]["unit"] == "µm"
    rc, out = run("variables", "--stage", "flooplan")
    assert rc == 2 and "no such stage (did you mean floorplan?)" in out.err
