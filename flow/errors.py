"""Error types shared by every part of the flow.

One error class per kind of failure, so the CLI can map each to a one-line message and an exit
code (2 for bad input, 1 for a failed stage or tool) without parsing messages.
"""

from __future__ import annotations

from pathlib import Path


class VhflowError(Exception):
    """Base class: anything the CLI reports as one line instead of a traceback."""

    exit_code = 1


class FormatError(VhflowError):
    """A file that does not parse: always names the file and, when known, the line."""

    exit_code = 2

    def __init__(self, path: str | Path | None, line: int | None, message: str) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __reduce__(self) -> tuple:
        # pickled from a background reader to the parent process (flow.background)
        return (type(self), (self.path, self.line, self.message))

    def __str__(self) -> str:
        where = str(self.path) if self.path is not None else "<input>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.message}"


class ConfigError(VhflowError):
    """A design or platform configuration that cannot be resolved (unknown key, wrong type, ...)."""

    exit_code = 2


class PlatformError(VhflowError):
    """A PDK that cannot be found or lacks a file the flow needs."""

    exit_code = 2


class ToolError(VhflowError):
    """An external tool (yosys, openroad, sta, iverilog) is missing, crashed or timed out."""

    exit_code = 1


class StageError(VhflowError):
    """A stage that ran and failed; the run directory is left marked as failed."""

    exit_code = 1


class RunDirError(VhflowError):
    """The run directory cannot be written (read-only or full disk): the run is marked failed."""

    exit_code = 1


class PluginError(VhflowError):
    """A plugin's hook raised: the message names the plugin, the hook and its error."""

    exit_code = 1

    def __init__(self, plugin: str, hook: str, exc: BaseException) -> None:
        self.plugin, self.hook = plugin, hook
        text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        super().__init__(f"plugin {plugin!r} failed in {hook}: {type(exc).__name__}: {text}")
