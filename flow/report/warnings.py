"""Warnings where people look: every warning a command logs is collected and printed once, as
a summary at the end of the command, naming the user's own files (not the run's copies) with
paths as the user would write them.

The runner attaches `COLLECTOR` to each run's logger; `vhflow` prints `summary()` before it
exits, whatever the outcome.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path


def shown_path(p: str | Path, cwd: Path | None = None) -> str:
    """A path as a user would type it: relative to the working directory when inside it,
    otherwise absolute (never a chain of `../`)."""
    cwd = (cwd or Path.cwd()).resolve()
    path = Path(p)
    if not path.is_absolute():
        path = (cwd / path)
    path = Path(os.path.normpath(path))
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


class WarningCollector(logging.Handler):
    """Keeps the WARNING records of the loggers it is attached to, with the run they belong to."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str | None, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            return  # errors are printed as the command's error already
        run = record.name.removeprefix("vhflow.run.") if record.name.startswith("vhflow.run.") else None
        self.records.append((run, record.getMessage()))

    def add(self, message: str, run_dir: str | Path | None = None) -> None:
        self.records.append((str(run_dir) if run_dir is not None else None, message))

    def clear(self) -> None:
        self.records.clear()

    def summary(self, cwd: Path | None = None) -> list[str]:
        """Each distinct warning once, run copies mapped back to the user's files."""
        out: dict[str, None] = {}
        users: dict[str, list[Path]] = {}
        origin: dict[str, str | None] = {}
        for run, msg in self.records:
            text = msg
            if run is not None:
                if run not in users:
                    users[run] = _user_files(Path(run))
                for token in set(_ABS.findall(msg)):
                    if token.startswith(run.rstrip("/") + "/"):
                        if token not in origin:
                            origin[token] = _origin(Path(token), users[run])
                        if origin[token] is not None:
                            text = text.replace(token, origin[token])
            out[_shorten_paths(text, cwd)] = None
        return list(out)


def _user_files(run_dir: Path) -> list[Path]:
    """The files the user's config names (absolute paths in config.resolved.json)."""
    try:
        doc = json.loads((run_dir / "config.resolved.json").read_text())
    except (OSError, ValueError):
        return []
    found: dict[Path, None] = {}
    for var in doc.get("variables", {}).values():
        vals = var.get("value")
        for v in vals if isinstance(vals, list) else [vals]:
            if isinstance(v, str) and os.path.isabs(v) and Path(v).is_file():
                found[Path(v)] = None
    return list(found)


def _origin(copy: Path, users: list[Path], limit: int = 16 << 20) -> str | None:
    """The user's file a run copy starts with (stages copy an SDC and may append to it), so
    its line numbers are the user's."""
    try:
        size = copy.stat().st_size
        if size > limit:
            return None
        data = None
        for user in users:
            if user.suffix != copy.suffix or user.stat().st_size > size:
                continue
            data = data if data is not None else copy.read_bytes()
            if data.startswith(user.read_bytes()):
                return str(user)
    except OSError:
        return None
    return None


_ABS = re.compile(r"(/[^\s:,;()'\"]+)")


def user_paths(text: str, cwd: Path | None = None) -> str:
    """A message with every absolute path as the user would type it (relative when under cwd)."""
    return _shorten_paths(text, cwd)


def _shorten_paths(text: str, cwd: Path | None) -> str:
    return _ABS.sub(lambda m: shown_path(m.group(1), cwd) if os.path.isabs(m.group(1)) else m.group(1), text)


COLLECTOR = WarningCollector()
