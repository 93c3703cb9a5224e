"""Design configuration: typed variables with ORFS names, from TOML plus `--set` overrides.

Every variable is declared somewhere — here (the flow-wide ones), on a stage (`config_vars`) or
by a plugin (`vhflow_config_variables`) — with a type, default, unit and doc. Resolution builds a
pydantic model from those declarations, so a wrong type is reported with the variable's name and
where its value came from, and an unknown key is an error with a did-you-mean (a typo must not
silently fall back to a default).
"""

from __future__ import annotations

import difflib
import glob
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

import pydantic

from flow.errors import ConfigError, FormatError
from flow.stage import Variable

FLOW_VARIABLES: tuple[Variable, ...] = (
    Variable("DESIGN_NAME", str, "Name of the top-level module."),
    Variable("PLATFORM", str, "Platform (PDK) name, e.g. nangate45 or sky130hd."),
    Variable("VERILOG_FILES", list[Path], "RTL source files (relative to the config file)."),
    Variable("SDC_FILE", Path, "Timing constraints (SDC) of the design."),
    Variable("VERILOG_TOP_PARAMS", dict[str, int | float | str], "Parameters of the top module.", {}),
    Variable("VERILOG_INCLUDE_DIRS", list[Path], "Include directories for the RTL.", []),
    Variable("VERILOG_DEFINES", dict[str, int | float | str], "Preprocessor defines for the RTL.", {}),
    Variable(
        "CLOCK_PERIOD", float | None,
        "Clock period; default: the first `create_clock -period` in SDC_FILE.", None, unit="ns", positive=True,
    ),
    Variable("CORNER", str | None, "Liberty corner for single-corner steps; default: the platform's.", None),
    Variable("DONT_USE_CELLS", list[str], "Extra cells (glob patterns) synthesis must not use.", []),
)


#: Ranges of numeric variables declared elsewhere without one: (min, max, positive). A stage's
#: or plugin's own declaration wins; this table keeps values the engines cannot use (a negative
#: activity, 3000 placement iterations, 0 congestion bins) from reaching them.
DEFAULT_LIMITS: dict[str, tuple[float | None, float | None, bool]] = {
    "CORE_UTILIZATION": (None, 100.0, True), "CORE_ASPECT_RATIO": (None, None, True),
    "CORE_MARGIN": (0.0, None, False), "DIE_AREA": (0.0, None, False), "CORE_AREA": (0.0, None, False),
    "PLACE_DENSITY": (None, 1.0, True), "PLACE_DENSITY_LB_ADDON": (0.0, 1.0, False),
    "PLACE_ITERATIONS": (1, 1000, False), "DETAILED_PLACE_PASSES": (0, 100, False),
    "PLACE_SEED": (0, 2**32 - 1, False), "FINEVH_SEED": (0, 2**32 - 1, False),
    "FINEVH_ISLANDS": (0, 100000, False), "FINEVH_ISLAND_SIZE": (0, None, False),
    "FINEVH_IR_DROP_MV": (0.0, None, False), "INPUT_ACTIVITY": (0.0, None, False),
    "ROUTE_CONGESTION_BINS": (1, 4096, False), "SIGNOFF_REPORT_PATHS": (0, 100000, False),
    "MAX_FANOUT": (None, None, True), "CTS_CLUSTER_SIZE": (None, None, True),
    "CTS_CLUSTER_DIAMETER": (None, None, True), "OPENROAD_TIMEOUT_S": (None, None, True),
    "REPAIR_STEINER_MAX_INSTANCES": (0, None, False), "SLEW_MARGIN": (0.0, None, False),
    "CAP_MARGIN": (0.0, None, False), "TNS_END_PERCENT": (0.0, 100.0, False),
    "THERMAL_AMBIENT_C": (-273.15, None, False), "THERMAL_LIMIT_C": (-273.15, None, False),
    "THERMAL_LEAKAGE_BETA": (0.0, None, False), "THERMAL_TRANSIENT_DT": (None, None, True),
    "THERMAL_TRANSIENT_STEPS": (1, 10**6, False),
}

#: DESIGN_NAME names the top module and a directory: a simple Verilog identifier
DESIGN_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
#: PLATFORM names a directory: letters, digits, _ . + - (not starting with . + -)
PLATFORM_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")


def _limits(var: Variable) -> tuple[float | None, float | None, bool]:
    if var.min is not None or var.max is not None or var.positive:
        return var.min, var.max, var.positive
    return DEFAULT_LIMITS.get(var.name, (None, None, False))


def _check_number(name: str, value: Any, var: Variable, where: str) -> None:
    """Every number of `value` finite and inside the variable's declared range."""
    import math

    lo, hi, positive = _limits(var)

    def walk(v: Any) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, int | float):
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"{where}: {name} = {v!r}: must be a finite number")
            if positive and v <= 0:
                raise ConfigError(f"{where}: {name} = {v!r}: must be > 0{_unit(var)}")
            if lo is not None and v < lo:
                raise ConfigError(f"{where}: {name} = {v!r}: must be >= {lo:g}{_unit(var)}")
            if hi is not None and v > hi:
                raise ConfigError(f"{where}: {name} = {v!r}: must be <= {hi:g}{_unit(var)}")
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(value)


def _unit(var: Variable) -> str:
    return f" {var.unit}" if var.unit else ""


def _is_path_type(tp: Any) -> bool:
    if tp is Path:
        return True
    return any(_is_path_type(a) for a in get_args(tp))


def _type_name(tp: Any) -> str:
    if get_origin(tp) is None and isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("pathlib.", "").replace("typing.", "")


class ResolvedConfig(Mapping[str, Any]):
    """Every variable's value, with where it came from (file:line, --set, default)."""

    def __init__(
        self,
        values: dict[str, Any],
        sources: dict[str, str],
        variables: dict[str, Variable],
        path: Path | None,
    ) -> None:
        self._values = values
        self.sources = sources
        self.variables = variables
        self.path = path

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise ConfigError(f"configuration variable {key!r} is not declared by the flow or any plugin") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def design_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def to_json(self) -> dict[str, Any]:
        out = {}
        for name in sorted(self._values):
            var = self.variables[name]
            value = self._values[name]
            out[name] = {
                "value": _jsonable(value),
                "source": self.sources.get(name, "default"),
                "type": _type_name(var.type),
                "unit": var.unit,
                "doc": var.doc,
                "declared_by": var.source,
            }
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def collect_variables(groups: Iterable[Iterable[Variable]]) -> dict[str, Variable]:
    """Merge declarations; the same name declared twice must agree on its type."""
    merged: dict[str, Variable] = {}
    for group in groups:
        for var in group:
            prev = merged.get(var.name)
            if prev is None:
                merged[var.name] = var
            elif _type_name(prev.type) != _type_name(var.type):
                raise ConfigError(
                    f"variable {var.name} declared as {_type_name(prev.type)} by {prev.source} "
                    f"and as {_type_name(var.type)} by {var.source}"
                )
    return merged


def _toml_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for i, line in enumerate(text.splitlines(), start=1):
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if m and m.group(1) not in lines:
            lines[m.group(1)] = i
    return lines


MAX_CONFIG_BYTES = 16 << 20


def load_toml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The raw table of a config file and the line of each top-level key."""
    try:
        if Path(path).stat().st_size > MAX_CONFIG_BYTES:
            raise FormatError(path, None, f"config file larger than {MAX_CONFIG_BYTES >> 20} MB")
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # TOML is UTF-8 by definition
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FormatError(path, line, f"invalid TOML: byte 0x{raw[exc.start]:02x} is not UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        line = int(m.group(1)) if m else max(1, len(text.splitlines()))  # "at end of document"
        raise FormatError(path, line, f"invalid TOML: {exc}") from None
    return data, _toml_lines(text)


def parse_override(item: str) -> tuple[str, Any]:
    """`KEY=VALUE` with VALUE as a TOML literal (`8`, `0.5`, `true`, `[1, 2]`) or else a string."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
    key, raw = item.split("=", 1)
    key = key.strip()
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def resolve_config(
    path: Path | None,
    variables: Mapping[str, Variable],
    overrides: Iterable[str] = (),
    raw: Mapping[str, Any] | None = None,
) -> ResolvedConfig:
    """Validate a config file (or a raw mapping) plus overrides against the declared variables."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    base = Path.cwd()
    if path is not None:
        path = Path(path).resolve()
        if path.suffix == ".mk":  # an ORFS config.mk, read as make would (flow.formats.orfs_mk)
            from flow.orfs_variables import load_config_mk

            data, lines = load_config_mk(path, variables)
        else:
            data, lines = load_toml(path)
        base = path.parent
        for key, value in data.items():
            values[key] = value
            sources[key] = f"{path}:{lines.get(key, '?')}"
    for key, value in (raw or {}).items():
        values[key] = value
        sources[key] = "api"
    for item in overrides:
        key, value = parse_override(item)
        values[key] = value
        sources[key] = "--set"

    unknown = [f"{sources[key]}: unknown configuration variable {key!r}{did_you_mean(key, variables)}"
               for key in values if key not in variables]
    if unknown:  # all of them at once
        raise ConfigError("; ".join(unknown))

    fields: dict[str, Any] = {}
    for name, var in variables.items():
        fields[name] = (var.type, ...) if var.required else (var.type, var.default)
    model = pydantic.create_model("DesignConfig", __config__=pydantic.ConfigDict(strict=False), **fields)
    try:
        validated = model(**values)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "?"
        where = sources.get(name, "config")
        if err["type"] == "missing":
            raise ConfigError(f"{path or 'config'}: required variable {name} is not set ({variables[name].doc})") from None
        got = values.get(name)
        raise ConfigError(
            f"{where}: {name} = {got!r}: expected {_type_name(variables[name].type)} ({err['msg']})"
        ) from None

    resolved = {name: getattr(validated, name) for name in variables}
    for name, var in variables.items():
        if name in values:
            _check_number(name, resolved[name], var, sources.get(name, "config"))
    for name, pattern, what in (("DESIGN_NAME", DESIGN_NAME_PATTERN, "a Verilog identifier of at most 128 "
                                 "letters, digits and _ (it names the top module and a directory)"),
                                ("PLATFORM", PLATFORM_NAME_PATTERN, "a platform name (letters, digits, _ . + -)")):
        value = resolved.get(name)
        if isinstance(value, str) and not pattern.fullmatch(value):
            raise ConfigError(f"{sources.get(name, 'config')}: {name} = {value!r}: must be {what}")
    for name, var in variables.items():
        if name in values and _is_path_type(var.type):
            origin = base if sources[name] != "--set" else Path.cwd()
            resolved[name] = _resolve_paths(resolved[name], origin)
    return ResolvedConfig(resolved, sources, dict(variables), path)


def _resolve_paths(value: Any, base: Path) -> Any:
    """Relative to `base`; in lists, glob patterns (`src/*.v`, as ORFS configs use) expand sorted."""
    if isinstance(value, Path):
        return value if value.is_absolute() else (base / value).resolve()
    if isinstance(value, list):
        out: list[Any] = []
        for v in value:
            if isinstance(v, Path) and any(ch in str(v) for ch in "*?["):
                pattern = str(v) if v.is_absolute() else str(base / v)
                matches = sorted(Path(p).resolve() for p in glob.glob(pattern, recursive=True))
                if not matches:
                    raise ConfigError(f"{v}: glob pattern matches no file (relative to {base})")
                out.extend(matches)
            else:
                out.append(_resolve_paths(v, base))
        return out
    return value


def clock_period_from_sdc(sdc: Path) -> float | None:
    """The first clock period in an SDC (ns). The SDC is evaluated by the sign-off engine's Tcl
    reader (variables, `expr`, `lsearch` work as in OpenSTA) against a design with no ports yet."""
    import numpy as np

    from flow.engines.model import FlatDesign
    from flow.formats.sdc import read_sdc

    empty = np.zeros(0, dtype=np.int64)
    design = FlatDesign([], [], np.zeros(1, dtype=np.int64), empty, [], empty, [], [], [], empty)
    clocks = read_sdc(Path(sdc), design, strict=False).clocks  # only the clocks: no refusals
    return clocks[0].period * 1e9 if clocks else None
