"""The lazily converted root group: same commands as typer's eager conversion, root help drawn
without typer.rich_utils, and commands converted only when used (issue 15: `vhflow --help` ≤ 0.3 s)."""

from __future__ import annotations

import subprocess
import sys

from typer.main import get_command

from flow.cli import build_app
from flow.commands.lazy_root import LazyRootGroup, root_command


def test_lazy_root_lists_exactly_the_commands_typer_would_build():
    eager = get_command(build_app())
    lazy = root_command(build_app())
    assert isinstance(lazy, LazyRootGroup)
    assert lazy.list_commands(None) == list(eager.commands)  # same names, same order
    assert {"run", "sta", "finevh", "convnet"} <= set(lazy.list_commands(None))
    assert lazy._converted == {}  # nothing converted yet
    finevh = lazy.get_command(None, "finevh")
    assert sorted(finevh.commands) == sorted(eager.commands["finevh"].commands)
    assert lazy.get_command(None, "no-such-command") is None


def test_root_help_names_every_command_without_loading_typer_rich_utils():
    code = ("import sys\nfrom flow.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print('RICH_UTILS', 'typer.rich_utils' in sys.modules, 'torch' in sys.modules, 'numpy.linalg' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"}).stdout
    assert "RICH_UTILS False False False" in out  # numpy: only lazy placeholders (flow.util.lazy_import)
    for name in build_app().registered_commands:
        assert (name.name or name.callback.__name__.replace("_", "-")) in out
    assert "Usage: vhflow [OPTIONS] COMMAND [ARGS]..." in out
    assert "--version" in out and "Print the version and exit." in out
    assert "finevh" in out and "FINE-VH: Vdd-hopping islands." in out


def test_subcommand_help_and_errors_still_go_through_typer(capsys):
    from flow.cli import main

    try:
        main(["platforms", "--help"])
    except SystemExit as exc:
        assert not exc.code
    assert "--json" in capsys.readouterr().out
    try:
        main(["no-such-command"])
        raise AssertionError("an unknown command must fail")
    except SystemExit as exc:
        assert exc.code == 2
    assert "No such command 'no-such-command'" in capsys.readouterr().err
