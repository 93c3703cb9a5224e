"""Config resolution: types, sources, overrides, and the errors a typo or a wrong type gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from flow.config import (
    FLOW_VARIABLES,
    clock_period_from_sdc,
    collect_variables,
    parse_override,
    resolve_config,
)
from flow.errors import ConfigError, FormatError
from flow.stage import Variable

EXTRA = (
    Variable("CORE_UTILIZATION", float, "Core utilisation.", 40.0, unit="%", source="floorplan"),
    Variable("FINEVH_ISLANDS", int, "Islands.", 0, source="finevh"),
)


def variables():
    return collect_variables([FLOW_VARIABLES, EXTRA])


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    (tmp_path / "src").mkdir(exist_ok=True)
    return p


BASE = 'DESIGN_NAME = "top"\nPLATFORM = "nangate45"\nVERILOG_FILES = ["src/a.v"]\nSDC_FILE = "src/c.sdc"\n'


def test_values_types_and_sources(tmp_path):
    cfg = resolve_config(write(tmp_path, BASE + "CORE_UTILIZATION = 55\n"), variables(), ["FINEVH_ISLANDS=8"])
    assert cfg["CORE_UTILIZATION"] == 55.0 and isinstance(cfg["CORE_UTILIZATION"], float)
    assert cfg["FINEVH_ISLANDS"] == 8
    assert cfg["VERILOG_FILES"] == [(tmp_path / "src/a.v").resolve()]
    assert cfg["SDC_FILE"] == (tmp_path / "src/c.sdc").resolve()
    assert cfg.sources["CORE_UTILIZATION"] == f"{tmp_path / 'config.toml'}:5"
    assert cfg.sources["FINEVH_ISLANDS"] == "--set"
    js = cfg.to_json()
    assert js["CORE_UTILIZATION"]["unit"] == "%" and js["CORE_UTILIZATION"]["source"].endswith("config.toml:5")
    assert js["CLOCK_PERIOD"]["source"] == "default" and js["CLOCK_PERIOD"]["value"] is None


def test_override_parsing():
    assert parse_override("A=8") == ("A", 8)
    assert parse_override("A=0.5") == ("A", 0.5)
    assert parse_override("A=true") == ("A", True)
    assert parse_override("A=[1, 2]") == ("A", [1, 2])
    assert parse_override("A=hello") == ("A", "hello")
    assert parse_override("A=x=y") == ("A", "x=y")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("novalue")


def test_unknown_key_suggests(tmp_path):
    with pytest.raises(ConfigError, match=r"config.toml:5: unknown configuration variable 'CORE_UTILISATION' \(did you mean CORE_UTILIZATION\?\)"):
        resolve_config(write(tmp_path, BASE + "CORE_UTILISATION = 50\n"), variables())


def test_wrong_type_names_variable_and_line(tmp_path):
    with pytest.raises(ConfigError, match=r"config.toml:5: CORE_UTILIZATION = 'half': expected float"):
        resolve_config(write(tmp_path, BASE + 'CORE_UTILIZATION = "half"\n'), variables())
    with pytest.raises(ConfigError, match=r"--set: FINEVH_ISLANDS = 'many': expected int"):
        resolve_config(write(tmp_path, BASE), variables(), ["FINEVH_ISLANDS=many"])


def test_missing_required(tmp_path):
    with pytest.raises(ConfigError, match="required variable SDC_FILE"):
        resolve_config(write(tmp_path, BASE.replace('SDC_FILE = "src/c.sdc"\n', "")), variables())


def test_broken_toml_names_line(tmp_path):
    with pytest.raises(FormatError) as err:
        resolve_config(write(tmp_path, BASE + "CORE_UTILIZATION = = 3\n"), variables())
    assert err.value.line == 5 and str(err.value).startswith(str(tmp_path / "config.toml") + ":5:")


def test_conflicting_declarations():
    with pytest.raises(ConfigError, match="declared as int by a and as str by b"):
        collect_variables([[Variable("X", int, "", 1, source="a")], [Variable("X", str, "", "", source="b")]])


def test_clock_period_from_sdc(tmp_path):
    sdc = tmp_path / "c.sdc"
    sdc.write_text("set clk_period 2.5\ncreate_clock -name core_clock -period $clk_period [get_ports clk]\n")
    assert clock_period_from_sdc(sdc) == pytest.approx(2.5)


def test_verilog_globs_expand_sorted(tmp_path):
    for name in ("b.v", "a.v"):
        (tmp_path / "src").mkdir(exist_ok=True)
        (tmp_path / "src" / name).write_text("")
    cfg = resolve_config(write(tmp_path, BASE.replace('["src/a.v"]', '["src/*.v"]')), variables())
    assert [p.name for p in cfg["VERILOG_FILES"]] == ["a.v", "b.v"]
    with pytest.raises(ConfigError, match="matches no file"):
        resolve_config(write(tmp_path, BASE.replace('["src/a.v"]', '["rtl/*.v"]')), variables())


def test_user_guide_documents_every_metric():
    from flow.report.metrics_doc import METRICS

    guide = (Path(__file__).resolve().parents[2] / "docs" / "USER_GUIDE.md").read_text()
    missing = [k for k in METRICS if f"`{k.replace('|', chr(92) + '|')}`" not in guide]
    assert not missing
