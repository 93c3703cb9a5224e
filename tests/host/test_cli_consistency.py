"""CLI consistency (issue 19 item 6), checked on the real command tree (core, commands/ and every
plugin's `vhflow_cli`) against the real Variables: an option named after a variable has its
default, a shared option has one type everywhere, booleans are flags, every command that writes
files has `--out`, and the `--json` inventories state their units."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flow.cli import build_app, main


@dataclass
class ArgparseOption:
    """An argparse option seen as typer's click option (opts, default, is_flag, type, help)."""

    opts: list[str]
    default: Any
    is_flag: bool
    type: Any
    help: str

    def bare_type(self) -> Any:
        return "bool" if self.is_flag else getattr(self.type, "__name__", str(self.type))


def _argparse_options(specs) -> list[ArgparseOption]:
    return [ArgparseOption(list(flags), kw.get("default", False if kw.get("action") == "store_true" else None),
                           kw.get("action") == "store_true", kw.get("type", str), kw.get("help", ""))
            for flags, kw in specs]


def _argparse_commands() -> dict[str, list]:
    """Commands that parse their own options with argparse (start-up cost), by their spec tables."""
    from plugins.thermal_signoff.plugin import THERMAL_OPTIONS

    return {"thermal": _argparse_options(THERMAL_OPTIONS)}


def _commands() -> dict[str, list]:
    """'convnet pq' -> its options (typer's click objects, or argparse specs seen the same way),
    for every command of `vhflow`."""
    from typer.main import get_command

    out: dict[str, list] = {}
    own = _argparse_commands()

    def walk(cmd, path: tuple[str, ...]) -> None:
        subs = getattr(cmd, "commands", None)
        name = " ".join(path)
        if subs:
            for sub_name, sub in subs.items():
                walk(sub, (*path, sub_name))
        elif (cmd.context_settings or {}).get("allow_extra_args") or name in own:
            assert name in own, f"{name} parses its own options: add its spec table to _argparse_commands"
            out[name] = own[name]
        else:
            out[name] = [p for p in cmd.params if p.param_type_name == "option"]

    walk(get_command(build_app()), ())
    return out


@pytest.fixture(scope="module")
def commands() -> dict[str, list]:
    return _commands()


@pytest.fixture(scope="module")
def variables() -> dict:
    from flow.commands.inventory import select_variables
    from flow.plugin_manager import get_plugin_manager

    return select_variables(get_plugin_manager(), None)


def _long(opt) -> str:
    return next(o for o in opt.opts if o.startswith("--"))


def _base(t) -> str:
    """Type name without Optional: `float | None` and `float` are the same option type."""
    return re.sub(r"\s*\|\s*None|None\s*\|\s*", "", str(t)).replace("typing.", "")


def test_the_tree_is_complete(commands):
    # a walk that silently found nothing would make every test below pass
    assert {"run", "metrics", "sweep", "thermal", "thermal-dvfs", "convnet pq", "convnet trace", "finevh policy",
            "variables", "platforms", "plugins"} <= set(commands)
    assert sum(len(v) for v in commands.values()) > 100


def test_booleans_are_flags(commands):
    """A bool option takes no value (`--json`, `--progress/--no-progress`), never `--json <bool>`."""
    bad = [f"{c} {_long(o)}" for c, opts in commands.items() for o in opts
           if _base(o.bare_type()) == "bool" and not o.is_flag]
    assert bad == []


def test_a_shared_numeric_option_has_one_type(commands):
    """`--epochs` (and every numeric option several commands share) is the same type everywhere
    (a repeatable option counts as its element type)."""
    types: dict[str, dict[str, str]] = {}
    for c, opts in commands.items():
        for o in opts:
            types.setdefault(_long(o), {})[c] = re.sub(r"^list\[(.*)\]$", r"\1", _base(o.bare_type()))
    mixed = {name: seen for name, seen in types.items()
             if len(set(seen.values())) > 1 and set(seen.values()) & {"int", "float"}}
    assert mixed == {}
    assert set(types["--epochs"].values()) == {"int"} and len(types["--epochs"]) >= 4


#: commands that write files, and commands that do not (or write where a named input lives)
WRITERS = {"run", "import-orfs", "compare", "sweep", "convnet pq", "convnet east", "convnet adaptive",
           "convnet export", "convnet trace"}
NOT_WRITERS = {
    "platforms": "prints", "plugins": "prints", "variables": "prints", "metrics": "prints",
    "sta": "prints (report_checks on stdout)", "power": "prints", "thermal-dvfs": "prints",
    "finevh policy": "prints the policy comparison of the run it is given",
    "report": "regenerates report.html inside the run directory it is given (its links are relative to it)",
    "thermal": "writes only the files HotSpot's own -steady_file / -o name (--steady-file, --ttrace)",
}


def test_out_on_every_command_that_writes(commands):
    assert set(WRITERS) | set(NOT_WRITERS) == set(commands), "classify every new command here"
    for c in WRITERS:
        outs = [o for o in commands[c] if "--out" in o.opts]
        assert outs, f"{c} writes files but has no --out"
        default = outs[0].default
        # nothing lands in the current directory by default: under runs/, beside the flow runs
        assert default is None or Path(default).parts[0] == "runs", (c, default)


#: options that are the command-line face of a variable, where the names differ
MAPPED = {("power", "--input-activity"): "INPUT_ACTIVITY", ("power", "--scope"): "ACTIVITY_SCOPE",
          ("thermal-dvfs", "--tmax"): "THERMAL_LIMIT_C", ("thermal-dvfs", "--beta"): "THERMAL_LEAKAGE_BETA",
          ("sta", "--propagated-clock"): "CLOCK_PROPAGATED", ("power", "--corner"): "CORNER",
          ("sta", "--corner"): "CORNER", ("thermal", "--grid"): "THERMAL_GRID",
          ("sta", "--paths"): "SIGNOFF_REPORT_PATHS"}
#: where the CLI default is the variable's meaning in another form (checked below, not waived)
SAME_MEANING = {
    ("sta", "--propagated-clock"): "flag absent = None: clocks as the SDC says",
    ("thermal-dvfs", "--beta"): "0.02 is THERMAL_LEAKAGE_BETA's own fallback (no two Liberty corners to fit)",
}
#: a different default on purpose, with the reason users are told in the option's help
OTHER_TOOL_DEFAULT = {
    ("thermal", "--grid"): ("64x64", "HotSpot 6's own default: `vhflow thermal` runs HotSpot's .flp/.ptrace as "
                            "HotSpot does"),
    ("sta", "--paths"): ("1", "OpenSTA report_checks prints one path per group unless -group_path_count"),
}


def test_cli_defaults_equal_the_variables(commands, variables):
    """Every option that maps to a variable (same name, or MAPPED) has the variable's default."""
    checked = []
    for c, opts in commands.items():
        for o in opts:
            key = (c, _long(o))
            auto = _long(o)[2:].replace("-", "_").upper()
            var = MAPPED.get(key) or (auto if auto in variables else None)
            if var is None:
                continue
            assert var in variables, (key, var)
            v = variables[var]
            checked.append(key)
            if key in OTHER_TOOL_DEFAULT:
                stated, _why = OTHER_TOOL_DEFAULT[key]
                # typer prints a set default; a None default's help must name what it falls back to
                assert str(o.default) == stated or (o.default is None and f"else {stated}" in (o.help or "")), key
                assert str(v.default) != stated  # else it would not need a reason
                continue
            if key == ("sta", "--propagated-clock"):
                assert o.default is False and o.is_flag and v.default is None
                continue
            if key == ("thermal-dvfs", "--beta"):
                assert v.default is None and f"else {o.default}" in v.doc
                continue
            assert o.default == v.default, f"{c} {_long(o)} defaults to {o.default!r}, {var} to {v.default!r}"
    assert set(MAPPED) <= set(checked) and len(checked) >= len(MAPPED)


def test_json_inventories_state_units(capsys):
    def run(*argv):
        with pytest.raises(SystemExit) as e:
            main(list(argv))
        assert e.value.code == 0
        return json.loads(capsys.readouterr().out)

    plat = run("platforms", "--json")
    units = plat["units"]
    corner = plat["platforms"][0]["corners"][0]
    numeric = [k for k, v in corner.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    assert numeric and all(k in units for k in numeric)  # every number says its unit
    assert units["voltage_v"] == "V" and units["temperature_c"] == "°C"
    doc = run("variables", "--json")
    rows = doc["variables"]
    assert rows and all("unit" in r for r in rows)
    assert {r["name"]: r["unit"] for r in rows}["THERMAL_LIMIT_C"] == "°C"
    plug = run("plugins", "--json")
    assert {p["name"] for p in plug["plugins"]} >= {"finevh", "power_signoff"}

    def numbers(x) -> list:
        if isinstance(x, dict):
            return [n for v in x.values() for n in numbers(v)]
        if isinstance(x, list):
            return [n for v in x for n in numbers(v)]
        return [x] if isinstance(x, int | float) and not isinstance(x, bool) else []

    assert numbers(plug) == [] or "units" in plug  # names and order only, or units stated
