"""UPF (IEEE 1801) reader/writer for the subset OpenROAD's `read_upf` understands.

Commands: create_power_domain (-elements, -include_scope), create_supply_port, create_supply_net
(-domain, -reuse), connect_supply_net (-ports), set_domain_supply_net (-primary_power_net,
-primary_ground_net), create_power_switch (-domain, -output_supply_port, -input_supply_port,
-control_port, -on_state), map_power_switch (-domain, -lib_cells), set_domain_area (-area),
set_level_shifter (-domain, -applies_to, -rule, -location), set_isolation, create_logic_port,
set_domain_voltage (-domain, -voltage, as OpenROAD's `read_upf` defines it). Words are Tcl
words: braces group lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from flow.errors import FormatError

KNOWN = {
    "create_power_domain", "create_supply_port", "create_supply_net", "connect_supply_net",
    "set_domain_supply_net", "create_power_switch", "map_power_switch", "set_domain_area",
    "set_level_shifter", "set_isolation", "create_logic_port", "set_domain_voltage", "upf_version",
}


@dataclass
class UpfCommand:
    name: str
    args: list[str | list]
    line: int

    def option(self, key: str, default=None):
        for i, a in enumerate(self.args):
            if a == key and i + 1 < len(self.args):
                return self.args[i + 1]
        return default

    def positional(self) -> list:
        out, skip = [], False
        for a in self.args:
            if skip:
                skip = False
                continue
            if isinstance(a, str) and a.startswith("-") and not re.fullmatch(r"-[\d.]+", a):
                skip = a not in {"-include_scope", "-reuse"}
                continue
            out.append(a)
        return out


@dataclass
class Upf:
    commands: list[UpfCommand] = field(default_factory=list)

    def domains(self) -> dict[str, list[str]]:
        return {c.positional()[0]: list(_flat(c.option("-elements", []))) for c in self.commands
                if c.name == "create_power_domain"}

    def switches(self) -> dict[str, dict]:
        out = {}
        for c in self.commands:
            if c.name == "create_power_switch":
                out[c.positional()[0]] = {
                    "domain": c.option("-domain"), "output": c.option("-output_supply_port"),
                    "input": c.option("-input_supply_port"), "control": c.option("-control_port"),
                    "on_state": c.option("-on_state"),
                }
        return out

    def of(self, name: str) -> list[UpfCommand]:
        return [c for c in self.commands if c.name == name]


def _flat(v) -> list[str]:
    if isinstance(v, list):
        return [x for item in v for x in _flat(item)]
    return [v]


def _words(text: str, path: Path, line: int) -> list:
    """Tcl-ish words: braces nest into lists, backslash line continuations already joined."""
    out: list = []
    stack: list[list] = [out]
    for tok in re.findall(r"\{|\}|\"[^\"]*\"|[^\s{}]+", text):
        if tok == "{":
            new: list = []
            stack[-1].append(new)
            stack.append(new)
        elif tok == "}":
            if len(stack) == 1:
                raise FormatError(path, line, "unbalanced '}'")
            stack.pop()
        else:
            stack[-1].append(tok.strip('"'))
    if len(stack) != 1:
        raise FormatError(path, line, "unbalanced '{'")
    return out


def read_upf(path: Path | str) -> Upf:
    path = Path(path)
    from flow.util import read_text_file

    lines = read_text_file(path, "UPF", max_bytes=256 << 20).splitlines()  # Latin-1 tolerated, as Tcl does
    upf = Upf()
    buf, start = "", 0
    for no, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].rstrip()
        if not buf:
            start = no
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.count("{") != buf.count("}"):
            buf += " "
            continue
        words = _words(buf, path, start)
        buf = ""
        if not words:
            continue
        name = words[0]
        if not isinstance(name, str) or name not in KNOWN:
            raise FormatError(path, start, f"unsupported UPF command {name!r}")
        upf.commands.append(UpfCommand(name, words[1:], start))
    if buf.strip():
        raise FormatError(path, start, "unterminated command (unbalanced braces)")
    return upf


def _fmt(v) -> str:
    if isinstance(v, list):
        return "{" + " ".join(_fmt(x) for x in v) + "}"
    return str(v)


def write_upf(upf: Upf, path: Path | str, header: str = "") -> None:
    out = [f"# {line}" for line in header.splitlines()] if header else []
    for c in upf.commands:
        out.append(" ".join([c.name, *(_fmt(a) for a in c.args)]))
    Path(path).write_text("\n".join(out) + "\n")


#: OpenROAD's `read_upf` commands (src/upf/src/upf.tcl) and the options each takes; the test
#: harness checks this table against OpenROAD's command list (openroad-commands.txt).
OPENROAD_UPF: dict[str, set[str]] = {
    "create_power_domain": {"-elements"},
    "create_logic_port": {"-direction"},
    "create_power_switch": {"-domain", "-output_supply_port", "-input_supply_port", "-control_port", "-on_state"},
    "set_isolation": {"-domain", "-applies_to", "-clamp_value", "-isolation_signal", "-isolation_sense", "-location",
                      "-update"},
    "use_interface_cell": {"-domain", "-strategy", "-lib_cells"},
    "set_domain_area": {"-area"},
    "map_power_switch": {"-switch_name_list", "-lib_cells", "-port_map"},
    "set_level_shifter": {"-domain", "-elements", "-exclude_elements", "-source", "-sink", "-use_functional_equivalence",
                          "-applies_to", "-applies_to_boundary", "-rule", "-threshold", "-no_shift", "-force_shift",
                          "-location", "-input_supply", "-output_supply", "-internal_supply", "-name_prefix",
                          "-name_suffix", "-instance", "-update", "-use_equivalence"},
    "set_domain_voltage": {"-domain", "-voltage"},
    "set_level_shifter_cell": {"-level_shifter", "-cell_name", "-input_port", "-output_port"},
}

#: Supply-network commands OpenROAD's read_upf does not have: the rails are pdngen's
#: (`set_voltage_domain -power/-secondary_power/-switched_power`), rendered from the same UPF.
_SUPPLY_ONLY = {"upf_version", "create_supply_port", "create_supply_net", "connect_supply_net",
                "set_domain_supply_net", "create_supply_set"}


def _options(c: UpfCommand) -> list[str]:
    return [a for a in c.args if isinstance(a, str) and a.startswith("-") and not re.fullmatch(r"-[\d.]+", a)]


def to_openroad(upf: Upf) -> tuple[Upf, list[str]]:
    """The part of `upf` OpenROAD's `read_upf` takes, and a note per command left out or changed.

    Supply ports/nets and their connections are dropped (pdngen builds the rails);
    `create_power_domain -include_scope` becomes a domain without elements (OpenROAD's top
    domain); `map_power_switch -domain D` names D's switches (`-switch_name_list`); a
    `set_domain_voltage` without `-domain` (our two-rail extension) is left out. Anything else
    with an option OpenROAD lacks is an error rather than a silently different power intent."""
    out: list[UpfCommand] = []
    notes: list[str] = []
    switches: dict[str, list[str]] = {}
    for c in upf.commands:
        if c.name == "create_power_switch" and c.option("-domain") is not None:
            switches.setdefault(str(c.option("-domain")), []).append(str(c.positional()[0]))
    for c in upf.commands:
        if c.name in _SUPPLY_ONLY:
            notes.append(f"{c.name} {' '.join(_fmt(a) for a in c.args)}: supplies are pdngen's, not read_upf's")
            continue
        args = list(c.args)
        if c.name == "create_power_domain" and "-include_scope" in args:
            args.remove("-include_scope")
        if c.name == "map_power_switch" and "-domain" in args:
            k = args.index("-domain")
            dom = str(args[k + 1])
            args[k:k + 2] = ["-switch_name_list", switches.get(dom, [])]
        if c.name == "set_domain_voltage" and "-domain" not in args:
            notes.append(f"set_domain_voltage {' '.join(_fmt(a) for a in c.args)}: not OpenROAD's -domain/-voltage form")
            continue
        new = UpfCommand(c.name, args, c.line)
        allowed = OPENROAD_UPF.get(c.name)
        bad = [o for o in _options(new) if allowed is None or o not in allowed]
        if allowed is None or bad:
            raise FormatError(None, c.line or None, f"UPF {c.name}: OpenROAD's read_upf has no "
                              f"{'such command' if allowed is None else 'option ' + bad[0]}")
        out.append(new)
    return Upf(out), notes
