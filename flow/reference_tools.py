"""Where the trusted reference tools live: OpenSTA 3.1 and HotSpot 6.

Why a module of its own: tests and benchmarks compare our sign-off with these tools, built by
`make reference-tools` from the tarballs in `../shared/reference` into a prefix *outside* the
repository. Everything that runs them finds them here, so a Debian `sta` (2019, different
internal power) on PATH is never picked up by accident.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

# The version each reference must report; anything else is not the reference.
EXPECTED = {"sta": "3.1", "hotspot": None}


def reference_prefix() -> Path:
    """`$VHFLOW_REFERENCE_PREFIX`, else `~/.cache/vhflow-reference` (the Makefile's default)."""
    env = os.environ.get("VHFLOW_REFERENCE_PREFIX")
    if env:
        return Path(env).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "vhflow-reference"


@cache
def _sta_version(exe: str) -> str | None:
    try:
        proc = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def reference_tool(name: str) -> Path | None:
    """Path of the reference `name` ('sta' or 'hotspot') when built and runnable, else None."""
    exe = reference_prefix() / "bin" / name
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        return None
    want = EXPECTED.get(name)
    if want is not None:
        version = _sta_version(str(exe))
        if version is None or not version.startswith(want):
            return None
    return exe


def why_missing(name: str) -> str:
    """One sentence for a skip or failure message."""
    return (f"reference tool {name!r} not found in {reference_prefix()}/bin "
            f"(run `make reference-tools`, or set VHFLOW_REFERENCE_PREFIX)")
