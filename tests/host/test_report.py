"""Report and compare on a real (small) run: self-contained HTML, figures, Chromium check."""

from __future__ import annotations

import base64
import json
import re
import subprocess

import pytest

from flow.cli import main
from flow.runner import run_flow
from tests.conftest import DESIGNS, require_tool


@pytest.fixture(scope="module")
def gcd_run(tmp_path_factory, nangate45):
    runs = tmp_path_factory.mktemp("runs")
    return run_flow(DESIGNS / "gcd/config.toml", runs_dir=runs, tag="r1")


def test_report_is_self_contained_with_figures(gcd_run):
    text = gcd_run.report.read_text()
    assert gcd_run.status == "completed"
    assert "http://" not in text and "https://" not in text  # no external resources
    imgs = re.findall(r'<img class="fig" alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    alts = {a for a, _ in imgs}
    assert {"placement", "power breakdown", "Power density", "stage timeline", "thermal maps",
            "setup slack histogram", "thermal transient"} <= alts
    for _, data in imgs:
        png = base64.b64decode(data)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    assert "Setup timing" in text and "Legal placement" in text
    assert '<span class="badge completed">completed</span>' in text


def test_compare_and_regenerate(gcd_run, tmp_path, capsys):
    other = run_flow(DESIGNS / "gcd/config.toml", runs_dir=gcd_run.run_dir.parents[1], tag="r2",
                     overrides=["CORE_UTILIZATION=30"], to_stage="place")
    with pytest.raises(SystemExit) as e:
        main(["compare", str(gcd_run.run_dir), str(other.run_dir), "--html", str(tmp_path / "c.html")])
    assert e.value.code == 0
    out = capsys.readouterr().out
    a = json.loads((gcd_run.run_dir / "metrics.json").read_text())["floorplan__design__instance__utilization"]
    b = json.loads((other.run_dir / "metrics.json").read_text())["floorplan__design__instance__utilization"]
    assert f"{b / a - 1:+.2%}" in out
    assert "<table" in (tmp_path / "c.html").read_text()
    (gcd_run.run_dir / "report.html").unlink()
    with pytest.raises(SystemExit) as e:
        main(["report", str(gcd_run.run_dir)])
    assert e.value.code == 0 and (gcd_run.run_dir / "report.html").exists()
    with pytest.raises(SystemExit) as e:
        main(["report", str(tmp_path)])
    assert e.value.code == 2


def test_report_in_headless_chromium(gcd_run, tmp_path):
    chromium = require_tool("chromium")
    shot = tmp_path / "report.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    url = gcd_run.report.as_uri()
    dom = subprocess.run([chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0
    assert "Uncaught" not in dom.stderr and not re.search(r"CONSOLE\(\d+\)", dom.stderr)  # no console errors
    assert dom.stdout.count('<img class="fig"') >= 5
    subprocess.run([chromium, *flags, f"--screenshot={shot}", "--window-size=1280,2000", url],
                   capture_output=True, timeout=120, check=True)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000  # a rendered page, not a blank one
