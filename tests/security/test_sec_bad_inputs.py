"""The golden table of bad inputs (tests/security/bad_inputs/cases.toml): each gives the
expected exit code and one-line error in expected.ok, as OpenSTA's `.ok` files do, and leaves
no run directory behind. Regenerate after a deliberate change with VHFLOW_REGEN_GOLDEN=1 (and
review the diff)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from flow.errors import VhflowError
from tests.security.conftest import load_fuzz

HERE = Path(__file__).resolve().parent / "bad_inputs"
CASES = tomllib.loads((HERE / "cases.toml").read_text())["case"]
GOLDEN = HERE / "expected.ok"


def _golden() -> dict[str, tuple[int, str]]:
    out = {}
    if GOLDEN.exists():
        for line in GOLDEN.read_text().splitlines():
            if line and not line.startswith("#"):
                name, rc, msg = line.split("\t", 2)
                out[name] = (int(rc), msg)
    return out


def _one_line(err: str) -> str:
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith("error")]
    return errors[-1] if errors else (lines[-1] if lines else "")


def _outcome(case: dict, tmp_path: Path, design: Path, vhflow) -> tuple[int, str, str]:
    """(exit code, the one error line with tmp_path shown as {dir}, full stderr)."""
    runs = tmp_path / "runs"
    if case["kind"] == "reader":
        fmt = load_fuzz().FORMATS[case["format"]]
        path = tmp_path / f"case{fmt[0]}"
        text = case["text"].replace("{dir}", str(tmp_path))
        path.write_bytes(text.encode("latin-1") if case.get("latin1") else text.encode("utf-8", "surrogateescape")
                         if "\x1f\x8b" not in text else text.encode("latin-1"))
        try:
            fmt[2](path)
        except VhflowError as exc:
            err = f"error: {exc}"
            return exc.exit_code, err.replace(str(tmp_path), "{dir}"), err
        return 0, "", ""
    if case["kind"] == "config":
        text = case["text"]
        design.write_bytes(text.encode("latin-1") if case.get("latin1") else text.encode())
        argv = ["run", str(design), "--runs-dir", str(runs), "-q"]
    else:
        argv = [a.replace("{cfg}", str(design)).replace("{runs}", str(runs)).replace("{dir}", str(tmp_path))
                for a in case["argv"]]
    code, _, err = vhflow(*argv)
    return code, _one_line(err).replace(str(tmp_path), "{dir}"), err


@pytest.fixture(scope="module")
def collected():
    got: dict[str, tuple[int, str]] = {}
    yield got
    if os.environ.get("VHFLOW_REGEN_GOLDEN") and len(got) == len(CASES):
        lines = ["# name<TAB>exit code<TAB>one-line error ({dir}: the test's directory); from cases.toml"]
        lines += [f"{c['name']}\t{got[c['name']][0]}\t{got[c['name']][1]}" for c in CASES]
        GOLDEN.write_text("\n".join(lines) + "\n")


def test_table_is_large_and_unique():
    names = [c["name"] for c in CASES]
    assert len(names) >= 60 and len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input(case, tmp_path, design, vhflow_real, collected):
    code, line, err = _outcome(case, tmp_path, design, vhflow_real)
    collected[case["name"]] = (code, line)
    assert code == 2, f"{case['name']}: exit {code}, stderr: {err}"
    assert "internal error" not in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists(), "bad input must not create a run directory"
    assert not (tmp_path / "PWNED").exists()
    if not os.environ.get("VHFLOW_REGEN_GOLDEN"):
        assert (code, line) == _golden()[case["name"]]
