"""A minimal but complete vhflow plugin.

It adds the stage `hello_cells` after synthesis (a histogram of the cell types in the netlist),
the metric `hello__cell_types`, a report section, a config variable and a `vhflow hello`
command — everything through hooks, without touching vhflow itself.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path

import typer

from flow.plugin_manager import hookimpl
from flow.report.sections import ReportSection
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.state import State

_INSTANCE = re.compile(r"^\s*([A-Za-z_][\w$]*)\s+(\\\S+|[A-Za-z_][\w$]*)\s*\(", re.MULTILINE)
_KEYWORDS = {"module", "input", "output", "inout", "wire", "reg", "assign", "endmodule"}


def cell_histogram(netlist: Path) -> Counter[str]:
    """Count instances per cell type in a structural Verilog netlist."""
    text = netlist.read_text()
    return Counter(m.group(1) for m in _INSTANCE.finditer(text) if m.group(1) not in _KEYWORDS)


class HelloCellsStage(Stage):
    id = "hello_cells"
    name = "Hello: cell-type histogram"
    inputs = ("verilog",)
    outputs = ("hello",)
    config_vars = (Variable("HELLO_TOP_N", int, "How many cell types the report lists.", 5, source="hello"),)

    def run(self, state: State, ctx: StageContext) -> StageResult:
        hist = cell_histogram(state["verilog"])
        out = ctx.path("cell_histogram.json")
        out.write_text(json.dumps(dict(hist.most_common()), indent=2))
        return StageResult(views={"hello": out}, metrics={"hello__cell_types": len(hist)})


@hookimpl
def vhflow_add_stages(flow):
    flow.insert_after("synth", HelloCellsStage)


@hookimpl
def vhflow_report_sections(state, run_dir, config):
    if "hello" not in state:
        return []
    hist = json.loads(Path(state["hello"]).read_text())
    top_n = int(config.get("HELLO_TOP_N", 5)) if config else 5
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in list(hist.items())[:top_n]
    )
    return [ReportSection("Hello plugin: most used cells", f"<table><tr><th>cell</th><th>count</th></tr>{rows}</table>",
                          order=900, source="hello")]


@hookimpl
def vhflow_cli(app):
    @app.command("hello")
    def hello(netlist: Path) -> None:
        """Print the cell-type histogram of a netlist (from the hello plugin)."""
        for cell, count in cell_histogram(netlist).most_common():
            typer.echo(f"{cell}\t{count}")
