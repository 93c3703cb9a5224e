"""Shared by the OpenROAD tests: put a fake `openroad` (a Python script) first on PATH."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


def install_fake_openroad(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> Path:
    """Write `source` (with `{python}` for the interpreter) as bin/openroad, executable, first on
    PATH, OPENROAD_EXE unset; returns its path."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "openroad"
    exe.write_text(source.replace("{python}", sys.executable))
    exe.chmod(0o755)
    monkeypatch.delenv("OPENROAD_EXE", raising=False)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return exe
