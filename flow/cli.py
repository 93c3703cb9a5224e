"""`vhflow` command line (typer). Sub-commands come from `flow/commands/*.py` modules
(`register(app)`) and from plugins through the `vhflow_cli(app)` hook.

Every error is one line on stderr: exit 2 for bad input or usage (with click's usage text),
1 for a failed stage or tool, 3 for sign-off violations, 130 after Ctrl-C.
Set `VHFLOW_DEBUG=1` for tracebacks.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flow import __version__
from flow.errors import VhflowError

console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vhflow {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    from flow.commands.help_format import flags_without_type

    flags_without_type()
    app = typer.Typer(
        name="vhflow",
        help="Plugin-based EDA flow around OpenROAD: FINE-VH islands, power/thermal sign-off, ConvNet tools.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _main(
        version: Annotated[
            bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
        ] = False,
    ) -> None:
        """vhflow: run flows, sign off timing/power/thermal, explore designs."""

    app.command("run")(run_cmd)
    app.command("platforms")(platforms_cmd)
    app.command("plugins")(plugins_cmd)
    app.command("variables")(variables_cmd)

    import flow.commands as commands_pkg

    for mod in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"flow.commands.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)

    _add_plugin_commands(app)
    return app


def _add_plugin_commands(app: typer.Typer) -> None:
    """Each plugin's `vhflow_cli(app)`, one at a time: a plugin that fails to load or raises
    here is named in a warning and skipped, so `--help` and the other commands keep working
    (`vhflow run` still reports a plugin that does not load)."""
    from flow.plugin_manager import get_plugin_manager

    try:
        pm = get_plugin_manager()
    except VhflowError as exc:
        err_console.print(f"[yellow]warning:[/] {escape(str(exc))}; its commands are missing", highlight=False,
                          soft_wrap=True)
        return
    for impl in reversed(pm.hook.vhflow_cli.get_hookimpls()):
        try:
            impl.function(app=app)
        except Exception as exc:  # a plugin's bug must not take the whole CLI down
            text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            err_console.print(f"[yellow]warning:[/] plugin {impl.plugin_name!r} failed in vhflow_cli: "
                              f"{type(exc).__name__}: {escape(text)}; its commands are missing",
                              highlight=False, soft_wrap=True)


def run_cmd(
    config: Annotated[Path, typer.Argument(help="Design config (TOML).")],
    backend: Annotated[str, typer.Option(help="embedded (in-process engines) or openroad.")] = "embedded",
    from_stage: Annotated[str | None, typer.Option("--from", help="Resume from this stage.")] = None,
    to_stage: Annotated[str | None, typer.Option("--to", help="Stop after this stage.")] = None,
    tag: Annotated[str | None, typer.Option(help="Run tag (directory name); default: a timestamp.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a variable: KEY=VALUE.")] = None,
    runs_dir: Annotated[Path | None, typer.Option("--out", "--runs-dir",
                                                  help="Where run directories go (default ./runs).")] = None,
    dry_run: Annotated[bool, typer.Option(help="openroad backend: render scripts only.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    allow_violations: Annotated[bool, typer.Option(
        "--allow-violations", help="Exit 0 when sign-off finds violations (default: exit 3).")] = False,
) -> None:
    """Run the flow for a design: synthesis → floorplan → place → CTS/route estimates → sign-off.

    Exit codes: 0 done, 1 a stage or tool failed, 2 bad input, 3 sign-off violations
    (status `completed_with_violations`), 130 interrupted."""
    from flow.runner import run_flow

    times: dict[str, float] = {}

    def progress(stage: str, event: str, seconds: float | None) -> None:
        if quiet:
            return
        if event == "start":
            console.print(f"[bold cyan]▶[/] {stage} …")
        elif event == "done":
            times[stage] = seconds or 0.0
            console.print(f"[green]✔[/] {stage} [dim]{seconds:.1f} s[/]")
        elif event == "reused":
            console.print(f"[dim]↺ {stage} (reused)[/]")
        elif event == "failed":
            console.print(f"[red]✘[/] {stage} [dim]{seconds:.1f} s[/]")

    result = run_flow(
        config, tag=tag, overrides=set_ or [], backend=backend, from_stage=from_stage, to_stage=to_stage,
        runs_dir=runs_dir, dry_run=dry_run, progress=progress,
    )
    if not quiet:
        _print_metrics(result.metrics)
    typer.echo(f"run: {result.run_dir} ({result.status})")
    typer.echo(f"metrics: {result.run_dir / 'metrics.json'}")
    if result.report is not None:
        typer.echo(f"report: {result.report}")
    if result.violations:
        for line in result.violations:
            err_console.print(f"[yellow]violation:[/] {escape(line)}", highlight=False, soft_wrap=True)
        if not allow_violations:
            raise typer.Exit(3)


def _print_metrics(metrics: dict) -> None:
    keys = [k for k in metrics if any(k.startswith(p) for p in (
        "synth__design__instance__area", "synth__design__instance__count", "globalplace__hpwl",
        "detailedplace__hpwl", "finish__timing__setup__ws", "finish__timing__hold__ws", "finish__power__total", "thermal__max_c",
        "finevh__islands", "finevh__saving")) and "__corner:" not in k]
    if not keys:
        return
    from flow.report.metrics_doc import display

    table = Table(title="key metrics", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for k in keys:
        value, unit = display(k, metrics[k])
        table.add_row(k, value, unit)
    console.print(table)


_JSON = typer.Option("--json", help="Machine-readable output (units in the key names and under \"units\").")


def platforms_cmd(as_json: Annotated[bool, _JSON] = False) -> None:
    """List platforms, their corners and which PDK files were found."""
    from flow.platform import load_platform, platform_config_files, platform_search_path
    from flow.plugin_manager import get_plugin_manager
    from flow.runner import plugin_platform_configs

    extra = plugin_platform_configs(get_plugin_manager())
    if as_json:
        from flow.commands.inventory import platforms_json

        typer.echo(platforms_json(extra))
        return
    console.print("search path: " + ", ".join(str(p) for p in platform_search_path()))
    for name in platform_config_files(extra):
        plat = load_platform(name, extra)
        found = "found" if plat.root and not plat.missing_files() else (
            f"[red]missing: {', '.join(plat.missing_files()) or 'platform directory'}[/]"
        )
        console.print(f"\n[bold]{name}[/] — {plat.description} ({plat.root or 'not found'}): {found}")
        table = Table(show_header=True)
        for col in ("corner", "process", "voltage (V)", "temp (°C)", "liberty"):
            table.add_column(col)
        for c in plat.corners.values():
            libs = ", ".join(p.name for p in c.liberty) or "[red]missing[/]"
            star = " *" if c.name == plat.default_corner else ""
            table.add_row(c.name + star, c.process, f"{c.voltage:.2f}", f"{c.temperature:g}", libs)
        for cname, files in plat.absent_corners.items():
            table.add_row(f"[dim]{cname}[/]", "", "", "", f"[dim]not in this tree ({', '.join(files)})[/]")
        console.print(table)
        console.print(
            f"site {plat.site.name} {plat.site.width * 1e6:g}×{plat.site.height * 1e6:g} µm; "
            f"tech LEF: {plat.tech_lef.name if plat.tech_lef else 'missing'}; "
            f"cell LEFs: {', '.join(p.name for p in plat.cell_lefs) or 'missing'}"
        )


def plugins_cmd(as_json: Annotated[bool, _JSON] = False) -> None:
    """List registered plugins and the stages of the flow."""
    from flow.plugin_manager import get_plugin_manager, plugin_list
    from flow.runner import build_flow

    pm = get_plugin_manager()
    if as_json:
        from flow.commands.inventory import plugins_json

        typer.echo(plugins_json(pm))
        return
    table = Table(title="plugins (entry-point group vhflow.plugins)")
    table.add_column("name")
    table.add_column("from")
    for name, origin in plugin_list(pm):
        table.add_row(name, origin)
    console.print(table)
    flow = build_flow(pm)
    console.print("stages: " + " → ".join(flow.ids()))


def variables_cmd(
    stage: Annotated[str | None, typer.Option(help="Only the variables this stage reads (a stage id).")] = None,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """List every configuration variable with its type, default, unit and doc."""
    from flow.commands.inventory import select_variables, variables_json
    from flow.config import _type_name
    from flow.plugin_manager import get_plugin_manager

    pm = get_plugin_manager()
    variables = select_variables(pm, stage)
    if as_json:
        typer.echo(variables_json(variables))
        return
    table = Table(show_header=True)
    for col in ("variable", "type", "default", "unit", "declared by", "doc"):
        table.add_column(col)
    for name in sorted(variables):
        v = variables[name]
        default = "(required)" if v.required else repr(v.default)
        table.add_row(name, _type_name(v.type), default, v.unit or "", v.source, v.doc)
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors, exit 2 for bad input, 1 for failures; the
    warnings the command logged, summarised at the end whatever the outcome."""
    from flow.report.warnings import COLLECTOR

    COLLECTOR.clear()
    try:
        _dispatch(argv)
    finally:
        lines = COLLECTOR.summary()
        if lines:
            err_console.print(f"[yellow]{len(lines)} warning(s):[/]", highlight=False)
            for line in lines:
                err_console.print(f"  [yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)


def _click_exceptions() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(ClickException, Exit, Abort) classes of typer's bundled click and of click itself:
    typer >= 0.2x ships its own copy, whose exceptions are not `click.ClickException`."""
    mods = []
    try:
        from typer import _click  # type: ignore[attr-defined]

        mods.append(_click.exceptions)
    except ImportError:
        pass
    try:
        import click

        mods.append(click.exceptions)
    except ImportError:
        pass
    exits = {typer.Exit, *(m.Exit for m in mods if hasattr(m, "Exit"))}
    aborts = {typer.Abort, *(m.Abort for m in mods if hasattr(m, "Abort"))}
    return tuple(m.ClickException for m in mods), tuple(exits), tuple(aborts)


def _dispatch(argv: list[str] | None) -> None:
    click_error, click_exit, click_abort = _click_exceptions()
    try:
        from flow.commands.lazy_root import root_command

        rc = root_command(build_app()).main(args=argv, prog_name="vhflow", standalone_mode=False)
        if rc == 130:  # typer turns Ctrl-C into Exit(130), silently
            err_console.print("interrupted")
        if isinstance(rc, int) and rc:  # click returns a command's typer.Exit code here
            sys.exit(rc)
    except VhflowError as exc:
        if os.environ.get("VHFLOW_DEBUG"):
            raise
        from flow.report.warnings import user_paths

        err_console.print(f"[red]error:[/] {escape(user_paths(str(exc)))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click_exit as exc:
        sys.exit(exc.exit_code)
    except click_abort:
        err_console.print("interrupted")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except click_error as exc:  # usage errors: click's own usage text and "Error: ..." line
        if getattr(exc, "ctx", 1) is None:  # raised before a command context existed: say where help is
            args = list(sys.argv[1:] if argv is None else argv)
            command = next((a for a in args if not a.startswith("-")), "")
            sys.stderr.write(f"Usage: vhflow {command + ' ' if command else ''}[OPTIONS] ...\n"
                             f"Try 'vhflow {command + ' ' if command else ''}--help' for help.\n\n")
        exc.show(file=sys.stderr)
        sys.exit(exc.exit_code if exc.exit_code else 2)
    except Exception as exc:
        if os.environ.get("VHFLOW_DEBUG"):
            raise
        from flow.plugin_manager import get_plugin_manager
        from flow.runner import plugin_of_exception

        try:
            plugin = plugin_of_exception(get_plugin_manager(), exc)
        except Exception:
            plugin = None
        who = f" in plugin {plugin!r}" if plugin else ""
        err_console.print(f"[red]internal error{who}:[/] {type(exc).__name__}: {escape(str(exc))}",
                          highlight=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    main()
