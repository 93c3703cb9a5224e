"""The `vhflow` root command group, built so that start-up costs only what the command needs.

Why: typer turns *every* registered command into a click command (inspecting each function's
signature and type hints) before it parses a single argument, and renders help through
`typer.rich_utils`, whose import pulls in rich's markdown, traceback and syntax modules. Together
that was ~40 % of `vhflow --help` (target ≤ 0.3 s, issue 15). Here sub-commands are registered
with typer exactly as before, but converted on first use, and the root help is drawn with a few
rich primitives in typer's own layout. Sub-command help (`vhflow run --help`) is typer's.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer
from typer.core import TyperGroup


def _first_paragraph(text: str | None) -> str:
    """The summary a command list shows: the first paragraph of the help, lines joined."""
    if not text:
        return ""
    paragraph = inspect.cleandoc(text).split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines()).replace("\b", "").strip()


class LazyRootGroup(TyperGroup):
    """A TyperGroup whose sub-commands stay typer `CommandInfo`/`TyperInfo` records until a
    command is looked up (invoked, or asked for its own help)."""

    _lazy: dict[str, Any]
    _converted: dict[str, Any]
    _settings: dict[str, Any]

    def attach(self, app: typer.Typer) -> None:
        """Take the commands and groups registered on `app` as the lazily converted children."""
        from typer.main import get_command_name, solve_typer_info_defaults

        self._lazy, self._converted = {}, {}
        self._settings = {"pretty_exceptions_short": app.pretty_exceptions_short,
                          "rich_markup_mode": app.rich_markup_mode}
        self._suggest = app.suggest_commands
        self._summaries: dict[str, tuple[str, bool]] = {}
        for info in app.registered_commands:
            name = info.name or get_command_name(info.callback.__name__)  # type: ignore[union-attr]
            help_text = info.short_help or info.help or inspect.getdoc(info.callback)
            self._lazy[name] = ("command", info)
            self._summaries[name] = (_first_paragraph(help_text), bool(info.hidden))
        for info in app.registered_groups:
            solved = solve_typer_info_defaults(info)
            if not solved.name:
                raise ValueError("vhflow: a typer group added without a name cannot be loaded lazily")
            self._lazy[solved.name] = ("group", info)
            self._summaries[solved.name] = (_first_paragraph(solved.short_help or solved.help), bool(solved.hidden))

    def get_help_option(self, ctx: Any) -> Any:
        """The root --help flag, unset = False rather than typer's None: typer coerces every value
        that is not a bool through a pydantic TypeAdapter, so a None made each sub-command import
        pydantic (~0.1 s CPU) before it ran (a command without typed options, e.g. thermal, none)."""
        option = super().get_help_option(ctx)
        if option is not None:
            option.default = False
        return option

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self._lazy)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self._converted:
            return self._converted[cmd_name]
        entry = self._lazy.get(cmd_name)
        if entry is None:
            return None
        from typer.main import get_command_from_info, get_group_from_info

        kind, info = entry
        if kind == "command":
            command = get_command_from_info(info, **self._settings)
        else:
            command = get_group_from_info(info, suggest_commands=self._suggest, **self._settings)
        self._converted[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Root help in typer's layout (usage, description, Options and Commands panels)."""
        from rich import box
        from rich.console import Console
        from rich.padding import Padding
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        console = Console(highlight=False)
        usage = " ".join([f"Usage: {ctx.command_path}", *self.collect_usage_pieces(ctx)])
        console.print(Padding(Text(usage, style="bold"), 1))
        if self.help:
            console.print(Padding(Text(_first_paragraph(self.help)), (0, 1, 1, 1)))

        def panel(title: str, rows: list[tuple[str, str]]) -> None:
            table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False, expand=False)
            table.add_column(style="bold cyan", no_wrap=True)
            table.add_column()
            for left, right in rows:
                table.add_row(left, Text(right))
            console.print(Panel(table, title=title, title_align="left", border_style="dim", box=box.ROUNDED))

        options = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and not getattr(param, "hidden", False):
                options.append((", ".join(param.opts + param.secondary_opts), record[1]))
        panel("Options", options)
        panel("Commands", [(name, text) for name, (text, hidden) in self._summaries.items() if not hidden])


def root_command(app: typer.Typer) -> LazyRootGroup:
    """The click group that runs `app`: the root callback converted now, commands on demand."""
    from typer.main import get_command

    commands, groups = app.registered_commands, app.registered_groups
    app.info.cls = LazyRootGroup
    app.registered_commands, app.registered_groups = [], []
    try:
        group = get_command(app)
    finally:
        app.registered_commands, app.registered_groups = commands, groups
    assert isinstance(group, LazyRootGroup)
    group.attach(app)
    return group
