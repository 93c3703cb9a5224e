"""ORFS trees and configs as they are: a platforms tree with one corner, config.mk in ORFS Make
syntax (run and import-orfs), every variables.yaml name known."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from flow.cli import main
from flow.errors import ConfigError, FormatError, PlatformError
from flow.formats.orfs_mk import read_config_mk
from flow.platform import load_platform
from tests.conftest import DESIGNS

REFERENCE_YAML = Path("/work/shared/reference/orfs/variables.yaml")

GCD_MK = """\
# gcd as ORFS ships it (designs/nangate45/gcd/config.mk)
export DESIGN_NICKNAME = gcd
export DESIGN_NAME = gcd
export PLATFORM    = nangate45

export VERILOG_FILES = $(sort $(wildcard $(DESIGN_HOME)/src/$(DESIGN_NICKNAME)/*.v))
export SDC_FILE      = $(DESIGN_HOME)/$(PLATFORM)/$(DESIGN_NICKNAME)/constraint.sdc
export ABC_AREA      = 1

export CORE_UTILIZATION ?= 40
export PLACE_DENSITY_LB_ADDON = 0.20
export TNS_END_PERCENT        = 100
export REMOVE_ABC_BUFFERS = 1
export SYNTH_HDL_FRONTEND = slang
export OPENROAD_HIERARCHICAL = 0
"""


@pytest.fixture
def orfs_tree(tmp_path, nangate45, monkeypatch):
    """An ORFS checkout: flow/platforms/nangate45 with only the typical Liberty, flow/designs."""
    flow = tmp_path / "orfs" / "flow"
    plat = flow / "platforms" / "nangate45"
    for sub in ("lef", "lib"):
        (plat / sub).mkdir(parents=True)
    for lef in nangate45.cell_lefs + (nangate45.tech_lef,):
        (plat / "lef" / lef.name).symlink_to(lef)
    typ = nangate45.corners["typical"].liberty[0]
    (plat / "lib" / typ.name).symlink_to(typ)
    src = flow / "designs" / "src" / "gcd"
    src.mkdir(parents=True)
    (src / "gcd.v").symlink_to(DESIGNS / "gcd/src/gcd.v")
    cfg_dir = flow / "designs" / "nangate45" / "gcd"
    cfg_dir.mkdir(parents=True)
    (cfg_dir / "constraint.sdc").symlink_to(DESIGNS / "gcd/src/constraint.sdc")
    (cfg_dir / "config.mk").write_text(GCD_MK)
    monkeypatch.setenv("ORFS_ROOT", str(tmp_path / "orfs"))
    monkeypatch.delenv("VHFLOW_PLATFORMS", raising=False)
    monkeypatch.delenv("DESIGN_HOME", raising=False)
    monkeypatch.delenv("CORE_UTILIZATION", raising=False)
    return flow


def test_platform_with_one_corner(orfs_tree):
    plat = load_platform("nangate45")
    assert plat.root == orfs_tree / "platforms" / "nangate45"
    plat.require_files()  # a subset of corners is a valid tree
    assert list(plat.corners) == ["typical"] and plat.default_corner == "typical"
    assert set(plat.absent_corners) == {"slow", "fast"}
    with pytest.raises(PlatformError, match=r"corner 'slow' is not in this PDK tree .*corners present: typical"):
        plat.corner("slow")
    with pytest.raises(PlatformError, match=r"FINE-VH needs Liberty corners at 2 supply voltages.*typical \(1.1 V\)"
                       r".*absent from this tree: slow"):
        plat.require_voltages(2, "FINE-VH")


def test_named_trees_must_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("ORFS_ROOT", str(tmp_path / "nope"))
    with pytest.raises(PlatformError, match="ORFS_ROOT=.*nope: no .*flow/platforms"):
        load_platform("nangate45")
    monkeypatch.delenv("ORFS_ROOT")
    monkeypatch.setenv("VHFLOW_PLATFORMS", str(tmp_path / "missing"))
    with pytest.raises(PlatformError, match="VHFLOW_PLATFORMS names .*missing, which is not a directory"):
        load_platform("nangate45")


def test_make_subset(tmp_path):
    mk = tmp_path / "config.mk"
    mk.write_text(
        "export A = one\n"
        "B := $(A) two   # a comment\n"
        "export C = $(B) \\\n    three\n"
        "A = uno\n"                                   # recursive C sees the new A
        "export D ?= keep\nexport D ?= lost\n"
        "export E = x\nexport E += y\n"
        "export F = $(dir /a/b/c.v) $(notdir /a/b/c.v) $(addprefix -I,x y) $(subst a,o,banana)\n"
        "export G = $(patsubst %.v,%.sv,a.v b.v) $(filter %.v,a.v b.c) $(words a b c) ${A}\n"
        "ifeq ($(A),uno)\nexport H = yes\nelse\nexport H = no\nendif\n"
        "ifdef NOT_SET\nexport I = bad\nendif\n"
        "export J = 100\\# not a comment\n"
        "export K = $(HOME_FROM_ENV)/x\n"
    )
    cfg = read_config_mk(mk, env={"HOME_FROM_ENV": "/home/u", "D": "from-env"})
    v = cfg.values
    assert v["B"] == "one two" and v["C"] == "one two three"
    assert v["D"] == "from-env"  # ?= takes the environment's value, as make
    assert v["E"] == "x y"
    assert v["F"] == "/a/b/ c.v -Ix -Iy bonono"
    assert v["G"] == "a.sv b.sv a.v 3 uno"
    assert v["H"] == "yes" and "I" not in v and v["J"] == "100# not a comment" and v["K"] == "/home/u/x"
    assert cfg.lines["C"] == 3 and cfg.lines["H"] == 13
    assert {"A", "C", "D", "E"} <= cfg.exported and "B" not in cfg.exported
    # relative $(wildcard) and $(abspath) are taken from make's working directory
    (tmp_path / "src").mkdir()
    for n in ("b.v", "a.v"):
        (tmp_path / "src" / n).write_text("")
    mk.write_text("export V = $(sort $(wildcard src/*.v))\nexport W = $(abspath src/../src/a.v)\n")
    other = read_config_mk(mk, env={}, base_dir=tmp_path)
    assert other.values["V"] == "src/a.v src/b.v" and other.values["W"] == str(tmp_path / "src" / "a.v")


@pytest.mark.parametrize("text, line, msg", [
    ("export A = 1\nexport B = $(shell rm -rf /)\n", 2, r"\$\(shell …\) is not supported"),
    ("X != echo hi\n", 1, "shell assignment"),
    ("include other.mk\n", 1, "no include"),
    ("all:\n\techo hi\n", 1, "variable assignment"),
    ("ifeq (a,b)\nexport A = 1\n", 1, "not closed by endif"),
    ("export A = $(B\n", 1, "unterminated"),
    ("export A = $(A) x\nexport B = $(A)\n", 1, "references itself"),
])
def test_make_errors_name_file_and_line(tmp_path, text, line, msg):
    mk = tmp_path / "config.mk"
    mk.write_text(text)
    with pytest.raises(FormatError, match=msg) as e:
        read_config_mk(mk, env={})
    assert f"config.mk:{line}" in str(e.value)


def test_design_home_must_be_known(tmp_path, monkeypatch):
    from flow.orfs_variables import load_config_mk

    monkeypatch.delenv("DESIGN_HOME", raising=False)
    monkeypatch.delenv("ORFS_ROOT", raising=False)
    mk = tmp_path / "config.mk"
    mk.write_text("export DESIGN_NAME = x\nexport VERILOG_FILES = $(DESIGN_HOME)/src/x.v\n")
    with pytest.raises(FormatError, match=r"config.mk:2: \$\(DESIGN_HOME\) is not known"):
        load_config_mk(mk, {})


def test_every_orfs_variable_is_known():
    from flow.orfs_variables import ORFS_VARIABLE_NAMES
    from flow.plugin_manager import get_plugin_manager
    from flow.runner import all_variables, build_flow

    pm = get_plugin_manager()
    known = all_variables(pm, build_flow(pm))
    names = list(ORFS_VARIABLE_NAMES)
    if REFERENCE_YAML.is_file():
        import yaml

        names = list(yaml.safe_load(REFERENCE_YAML.read_text()))
        assert len(names) == len(ORFS_VARIABLE_NAMES) == 249
    assert [n for n in names if n not in known] == []


def test_unknown_variables_all_at_once(orfs_tree):
    mk = orfs_tree / "designs" / "nangate45" / "gcd" / "config.mk"
    mk.write_text(GCD_MK + "export CORE_UTILISATION = 30\nexport PLACE_DENSTY = 0.5\nHELPER = not exported\n")
    with pytest.raises(ConfigError) as e:
        main_prepare(mk)
    text = str(e.value)
    assert "config.mk:16: unknown configuration variable 'CORE_UTILISATION' (did you mean CORE_UTILIZATION?)" in text
    assert "config.mk:17: unknown configuration variable 'PLACE_DENSTY'" in text and "HELPER" not in text


def main_prepare(mk: Path):
    from flow.runner import prepare

    return prepare(mk)


def test_config_mk_resolves_like_orfs(orfs_tree, monkeypatch):
    mk = orfs_tree / "designs" / "nangate45" / "gcd" / "config.mk"
    setup = main_prepare(mk)
    cfg = setup.config
    assert cfg["VERILOG_FILES"] == [orfs_tree / "designs/src/gcd/gcd.v"]
    assert cfg["SDC_FILE"] == orfs_tree / "designs/nangate45/gcd/constraint.sdc"
    assert cfg["CORE_UTILIZATION"] == 40 and cfg["PLACE_DENSITY_LB_ADDON"] == 0.2
    assert cfg.sources["CORE_UTILIZATION"] == f"{mk.resolve()}:10"
    assert list(setup.platform.corners) == ["typical"]
    from flow.orfs_variables import ignored_warning

    warning = ignored_warning(cfg, "embedded")
    set_here = ("ABC_AREA", "CORE_UTILIZATION", "PLACE_DENSITY_LB_ADDON", "TNS_END_PERCENT", "REMOVE_ABC_BUFFERS",
                "SYNTH_HDL_FRONTEND", "OPENROAD_HIERARCHICAL")
    ignored = [n for n in set_here if cfg.variables[n].source == "orfs"]  # no stage or plugin reads them
    assert ignored and warning.startswith(f"{len(ignored)} ORFS variable(s) accepted but ignored")
    for n in set_here:
        assert (f"{n} ({mk.resolve()}:" in warning) == (n in ignored), n
    assert ignored_warning(cfg, "openroad") is None  # that backend exports them
    monkeypatch.setenv("CORE_UTILIZATION", "35")  # ?= honours the environment, as make
    assert main_prepare(mk).config["CORE_UTILIZATION"] == 35


def test_import_orfs_round_trip(orfs_tree, capsys, tmp_path):
    mk = orfs_tree / "designs" / "nangate45" / "gcd" / "config.mk"
    with pytest.raises(SystemExit) as e:
        main(["import-orfs", str(mk)])
    assert e.value.code == 0
    text = capsys.readouterr().out
    doc = tomllib.loads(text)
    assert doc["DESIGN_NAME"] == "gcd" and doc["CORE_UTILIZATION"] == 40
    assert doc["VERILOG_FILES"] == [str(orfs_tree / "designs/src/gcd/gcd.v")]
    out = mk.parent / "config.toml"
    out.write_text(text)
    a, b = main_prepare(mk).config, main_prepare(out).config
    for name in ("DESIGN_NAME", "VERILOG_FILES", "SDC_FILE", "CORE_UTILIZATION", "PLACE_DENSITY_LB_ADDON",
                 "TNS_END_PERCENT", "SYNTH_HDL_FRONTEND"):
        assert a[name] == b[name], name


def test_run_config_mk_on_one_corner_tree(orfs_tree, tmp_path, capsys, monkeypatch):
    """ORFS's gcd config.mk on an ORFS tree with one corner, from the CLI: signed off at that
    corner, and the warnings summary names the user's SDC and config.mk lines."""
    cfg_dir = orfs_tree / "designs" / "nangate45" / "gcd"
    sdc = cfg_dir / "constraint.sdc"
    sdc.unlink()
    text = (DESIGNS / "gcd/src/constraint.sdc").read_text()
    sdc.write_text(text + "create_clokc -period 1 foo\n")
    bad_line = text.count("\n") + 1
    monkeypatch.chdir(orfs_tree)
    with pytest.raises(SystemExit) as e:
        main(["run", "designs/nangate45/gcd/config.mk", "--runs-dir", str(tmp_path / "runs"), "--tag", "mk", "-q",
              "--to", "signoff"])
    assert e.value.code == 0
    err = capsys.readouterr().err
    assert f"designs/nangate45/gcd/constraint.sdc:{bad_line}: unknown SDC command 'create_clokc'" in err
    assert "OPENROAD_HIERARCHICAL (designs/nangate45/gcd/config.mk:15)" in err
    assert "/runs/" not in err and "../" not in err  # the user's files, as the user names them
    run = next((tmp_path / "runs").rglob("metrics.json")).parent  # runs/<design>/[<platform>/]mk
    metrics = json.loads((run / "metrics.json").read_text())
    corners = {k.split("corner:")[1] for k in metrics if "__corner:" in k}
    assert corners == {"typical"}
    assert metrics["finish__timing__setup__ws"] == metrics["finish__timing__setup__ws__corner:typical"]
    resolved = json.loads((run / "config.resolved.json").read_text())
    assert resolved["config_file"] == str((cfg_dir / "config.mk").resolve())


def test_cli_errors_name_the_file_as_the_user_does(tmp_path, monkeypatch, capsys):
    d = tmp_path / "proj"
    d.mkdir()
    (d / "config.mk").write_text("export DESIGN_NAME = x\nexport V = $(shell ls)\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["run", "proj/config.mk", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "error: proj/config.mk:2: $(shell …) is not supported" in err
    assert not (tmp_path / "runs").exists()


def test_finevh_says_which_corners_it_needs(orfs_tree):
    from types import SimpleNamespace

    from plugins.finevh.plugin import _rails

    ctx = SimpleNamespace(platform=load_platform("nangate45"), config={"FINEVH_VDDH_CORNER": None,
                                                                      "FINEVH_VDDL_CORNER": None})
    with pytest.raises(PlatformError, match=r"FINE-VH .* needs Liberty corners at 2 supply voltages.*"
                                            r"absent from this tree: slow \(no lib/NangateOpenCellLibrary_slow.lib\)"):
        _rails(ctx)
