"""`vhflow import-orfs config.mk [--out config.toml]`: an ORFS config.mk as a vhflow TOML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(str(v), ensure_ascii=False)  # a TOML basic string uses JSON's escapes


def config_mk_to_toml(mk: Path, out: Path | None = None) -> str:
    """The TOML text of an ORFS config.mk: each variable typed as vhflow declares it, paths
    relative to `out`'s directory when given (absolute otherwise), its config.mk line noted."""
    import os

    from flow.orfs_variables import load_config_mk
    from flow.plugin_manager import get_plugin_manager
    from flow.runner import all_variables, build_flow

    pm = get_plugin_manager()
    variables = all_variables(pm, build_flow(pm))
    data, lines = load_config_mk(mk, variables)
    base = out.resolve().parent if out is not None else None

    def rel(v: Any, is_path: bool) -> Any:
        if isinstance(v, list):
            return [rel(x, is_path) for x in v]
        if is_path and base is not None and isinstance(v, str) and os.path.isabs(v):
            return os.path.relpath(v, base)
        return v

    from flow.config import _is_path_type

    text = [f"# imported from {mk} by vhflow import-orfs"]
    for name, value in data.items():
        var = variables[name]
        note = f"{mk.name}:{lines.get(name, '?')}"
        if var.source == "orfs":
            note += ", ORFS variable the embedded backend ignores"
        text.append(f"{name} = {_toml_value(rel(value, _is_path_type(var.type)))}  # {note}")
    return "\n".join(text) + "\n"


def register(app: typer.Typer) -> None:
    @app.command("import-orfs")
    def import_orfs(
        config_mk: Annotated[Path, typer.Argument(help="An ORFS design config.mk.")],
        out: Annotated[Path | None, typer.Option("--out", help="Write the TOML here (default: stdout).")] = None,
    ) -> None:
        """Convert an ORFS config.mk (Make syntax, never run) into a vhflow config TOML."""
        text = config_mk_to_toml(config_mk, out)
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text)
            typer.echo(f"wrote {out}", err=True)
