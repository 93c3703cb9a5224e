"""Report and compare on a real (small) run: self-contained HTML, figures, Chromium check."""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import subprocess
from pathlib import Path

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
            "setup slack histogram", "thermal transient", "layout", "congestion map", "clock tree"} <= alts
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


def test_pd_figures_and_tables_match_the_run(gcd_run, nangate45):
    """The layout, congestion, clock-tree and worst-path figures state numbers the run's own
    metrics and files give independently."""
    from flow.formats.deflib import read_def
    from flow.metrics import format_number
    from flow.platform import load_platform
    from flow.report import pd

    run = gcd_run.run_dir
    text = gcd_run.report.read_text()
    m = json.loads((run / "metrics.json").read_text())
    info = json.loads((run / "run.json").read_text())
    dirs = pd.stage_dirs(run, info)
    final = json.loads((dirs["signoff"] / "state_out.json").read_text())["views"]
    comps = read_def(run / final["def"]).components
    taps = sum(c.macro == "TAPCELL_X1" for c in comps)
    # ORFS's finish__design__instance__area (Liberty areas + taps) equals the DEF's LEF footprints
    sizes = pd._macro_sizes(nangate45)
    lef_area = sum(sizes[c.macro][0] * sizes[c.macro][1] for c in comps) * 1e12
    assert m["finish__design__instance__area"] == pytest.approx(lef_area, rel=1e-6)
    assert m["finish__design__instance__utilization"] == pytest.approx(lef_area / m["floorplan__design__core__area"],
                                                                       rel=1e-5)
    assert taps == m["floorplan__design__tapcells"]
    got = re.search(r"Layout \(\S+\): (\d+) cells, (\d+) taps(?:, (\d+) inserted buffers)?", text)
    assert got and int(got.group(1)) + int(got.group(2)) + int(got.group(3) or 0) == len(comps)
    assert int(got.group(2)) == taps
    cong = float(m["globalroute__route__congestion__max__estimate"])
    assert f"Routing congestion (estimate): max {format_number(cong)}, " \
           f"{m['globalroute__route__congestion__overflow_bins__estimate']} bins over 1" in text
    cts = json.loads((dirs["cts"] / "state_out.json").read_text())["views"]
    nets, macro, pos = pd.connectivity_from_netlist(run / cts["verilog"], run / cts["placement"])
    tree = pd.clock_tree(nets, macro, load_platform("nangate45").liberty())
    assert tree["sinks"] == m["cts__clock__sinks"] > 0
    # the report's array version finds the same tree (nets, drivers, levels) and positions
    fast, fast_pos = pd.clock_tree_of_netlist(run / cts["verilog"], run / cts["placement"],
                                              load_platform("nangate45").liberty())
    assert fast == tree
    assert fast_pos == {k: pos[k] for k in fast_pos} and len(fast_pos) > len(fast["nets"])
    assert len({tree["driver"][n][0] for n in tree["nets"]} - {"PIN"}) == m["cts__clock__buffers"]
    assert f"Clock tree: {m['cts__clock__sinks']} sinks, {m['cts__clock__buffers']} buffers" in text
    # worst-path table: the 5 worst setup paths, then the 5 worst hold paths; the first of each is
    # the run's worst slack of its kind, in ns
    table = re.search(r"<h3>Worst paths</h3><table>(.*?)</table>", text, re.S).group(1)
    rows = re.findall(r"<tr class='[^']*'><td>(setup|hold)</td>(.*?)</tr>", table, re.S)
    assert [k for k, _ in rows] == ["setup"] * 5 + ["hold"] * 5
    assert f"<b>{format_number(m['finish__timing__setup__ws'])}</b>" in rows[0][1]
    assert f"<b>{format_number(m['finish__timing__hold__ws'])}</b>" in rows[5][1]
    assert "Total power (fast corner)" in text  # the headline corner is named on its card
    rpt = "timing.rpt" if (dirs["signoff"] / "timing.rpt").is_file() else "checks.rpt"
    assert re.search(rf"<a href='[^']*{rpt}'>", text)  # the link to the OpenSTA-format paths
    # every instance's power, highest first, summing to the sign-off total
    rows = list(csv.DictReader((run / "power_instances.csv").open()))
    totals = [float(r["total_W"]) for r in rows]
    assert totals == sorted(totals, reverse=True)
    from flow.formats.verilog import read_verilog

    netlist = read_verilog([run / final["verilog"]])
    assert sorted(r["instance"] for r in rows) == sorted(netlist.inst_names)  # every instance, once
    assert sum(totals) == pytest.approx(m["finish__power__total"], rel=1e-4)


def test_layout_labels_do_not_overlap(gcd_run, nangate45):
    from flow.report import figures, pd

    info = json.loads((gcd_run.run_dir / "run.json").read_text())
    final = json.loads((pd.stage_dirs(gcd_run.run_dir, info)["signoff"] / "state_out.json").read_text())["views"]
    fig, caption = pd.layout_axes(gcd_run.run_dir / final["def"], nangate45)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    labelled = int(re.search(r"\((\d+) labelled\)", caption).group(1))
    assert len(boxes) == labelled > 0
    overlaps = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
    title = ax.title.get_window_extent(renderer)
    ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text()]
    figures.plt.close(fig)
    assert overlaps == []
    assert not any(b.overlaps(t) for b in boxes for t in [*ticks, title])


def test_thermal_maps_labels_do_not_overlap(gcd_run, monkeypatch):
    """The two thermal maps side by side: no axis, tick or colour-bar label runs into the other
    map's (the power map's 'mW' sat 1 px from the temperature map's 'y (µm)'), no offset notation."""
    from flow.report import figures
    from flow.report.html import final_state
    from plugins.thermal_signoff import plugin as thermal

    seen = {}
    real = figures.to_img

    def capture(fig, alt):
        if alt == "thermal maps":
            fig.canvas.draw()
            r = fig.canvas.get_renderer()
            seen["labels"] = [(id(a), t.get_window_extent(r).expanded(1.0, 1.0).padded(4))  # 4 px apart at least
                              for a in fig.axes
                              for t in (a.xaxis.label, a.yaxis.label, *a.get_yticklabels()) if t.get_text()]
            seen["offsets"] = [a.yaxis.get_offset_text().get_text() for a in fig.axes]
        return real(fig, alt)

    monkeypatch.setattr(figures, "to_img", capture)
    info = json.loads((gcd_run.run_dir / "run.json").read_text())
    thermal.vhflow_report_sections(final_state(gcd_run.run_dir, info), gcd_run.run_dir, {})
    labels = seen["labels"]
    assert len(labels) >= 4  # x and y of both maps, the colour bars' units
    assert [(i, j) for i, (ai, a) in enumerate(labels) for j, (aj, b) in enumerate(labels)
            if i < j and ai != aj and a.overlaps(b)] == []
    assert all(o == "" for o in seen["offsets"])


def test_drv_table_passes_on_the_sign_off_count():
    from flow.report.pd import drv_table

    t = drv_table({"repair_design__before__timing__drv__max_slew": 10, "repair_design__timing__drv__max_slew": 0,
                   "finish__timing__drv__max_slew": 3, "finish__timing__drv__max_slew_slack": -0.0123,
                   "finish__timing__drv__max_cap": 0, "repair_design__before__timing__drv__max_cap": 4})
    slew = re.search(r"<tr class='bad'><td>max slew</td>(.*?)</tr>", t).group(1)
    assert re.findall(r"<td class='num'>([^<]*)</td>", slew) == ["10", "0", "3", "-0.0123 ns"] and "✘" in slew
    cap = re.search(r"<tr class=''><td>max capacitance</td>(.*?)</tr>", t).group(1)
    assert "✔" in cap and "max fanout" not in t  # no fanout metric: no row


def test_ir_drop_map_caption_is_the_worst_island():
    import numpy as np

    from flow.report import pd

    npz = {"inst_names": np.array(["a", "b", "c"]), "x": np.array([0, 2e-6, 4e-6]), "y": np.zeros(3),
           "w": np.full(3, 1e-6), "h": np.full(3, 1e-6), "die": np.array([0, 0, 6e-6, 2e-6])}
    out = pd.ir_drop_figure(npz, {"a": "isl0", "b": "isl1"}, {"isl0": 0.0123, "isl1": 0.0456})
    assert "worst 45.6 mV" in out and out.count("<img") == 1


def test_plain_numbers_on_colour_bars():
    import numpy as np

    from flow.report import figures

    fig, ax = figures.plt.subplots()
    im = ax.imshow(48.39 + np.linspace(0, 0.01, 16).reshape(4, 4))
    cb = figures.colorbar(fig, im, ax, "T (°C)")
    fig.canvas.draw()
    labels = [t.get_text() for t in cb.ax.get_yticklabels()] + [cb.ax.yaxis.get_offset_text().get_text()]
    figures.plt.close(fig)
    assert all("e" not in s and "+" not in s for s in labels) and any(s.startswith("48.39") for s in labels)


def test_rules_table_in_report(gcd_run, tmp_path, capsys):
    m = json.loads((gcd_run.run_dir / "metrics.json").read_text())
    rules = tmp_path / "rules-base.json"
    rules.write_text(json.dumps({
        "synth__design__instance__area__stdcell": {"value": round(m["synth__design__instance__area__stdcell"] * 1.15),
                                                   "compare": "<="},
        "finish__timing__setup__ws": {"value": m["finish__timing__setup__ws"] + 0.5, "compare": ">="},
    }))
    with pytest.raises(SystemExit) as e:
        main(["report", str(gcd_run.run_dir), "--rules", str(rules)])
    assert e.value.code == 0
    text = gcd_run.report.read_text()
    assert "1 of 2 rules passed, 1 failed for <code>rules-base.json</code>" in text
    with pytest.raises(SystemExit) as e:
        main(["metrics", str(gcd_run.run_dir), "--rules", str(rules)])
    assert e.value.code == 3 and "1 of 2 rules passed, 1 failed" in capsys.readouterr().out


ORFS_GCD_RULES = Path(__file__).resolve().parents[2] / "examples/orfs_rules/nangate45_gcd_rules-base.json"
NOT_COMPUTED = {"detailedroute__route__drc_errors", "detailedroute__antenna__violating__nets",
                "detailedroute__antenna_diodes_count", "globalroute__antenna_diodes_count"}


def test_orfs_gcd_rules_on_the_embedded_backend(gcd_run, nangate45, capsys):
    """Every metric of ORFS's gcd rules-base is produced, except the four the embedded backend
    has no engine for, which are reported as such (exit 3, or 0 with --allow-not-computed)."""
    from flow.formats.deflib import read_def
    from flow.report import pd

    run = gcd_run.run_dir
    with pytest.raises(SystemExit) as e:
        main(["metrics", str(run), "--rules", str(ORFS_GCD_RULES), "--json"])
    doc = json.loads(capsys.readouterr().out)
    status = {r["field"]: r for r in doc["rules"]}
    assert e.value.code == 3 and len(status) == 28
    assert {f for f, r in status.items() if r["status"] == "not computed"} == NOT_COMPUTED
    assert all(status[f]["note"].startswith("not computed (embedded backend: ") for f in NOT_COMPUTED)
    assert all(r["actual"] is not None for f, r in status.items() if f not in NOT_COMPUTED)
    with pytest.raises(SystemExit) as e:
        main(["metrics", str(run), "--rules", str(ORFS_GCD_RULES), "--allow-not-computed"])
    out = capsys.readouterr().out
    failed = [f for f, r in status.items() if r["status"] == "fail"]
    assert e.value.code == (3 if failed else 0)
    assert f"{28 - 4 - len(failed)} of 28 rules passed" in out and "4 not computed (embedded backend)" in out
    # the values, from the run's own files
    m = json.loads((run / "metrics.json").read_text())
    info = json.loads((run / "run.json").read_text())
    dirs = pd.stage_dirs(run, info)
    views = json.loads((dirs["repair_design"] / "state_out.json").read_text())["views"]
    comps = read_def(run / views["def"]).components
    sizes = pd._macro_sizes(nangate45)
    assert m["placeopt__design__instance__count__stdcell"] == len(comps)
    assert m["placeopt__design__instance__area"] == pytest.approx(
        sum(sizes[c.macro][0] * sizes[c.macro][1] for c in comps) * 1e12, rel=1e-6)
    sdc = (DESIGNS / "gcd/src/constraint.sdc").read_text()
    assert m["constraints__clocks__count"] == sdc.count("create_clock") == 1
    assert m["constraints__clocks__details"] == ["core_clock: 2.8000"]
    # routed length: the Steiner estimate, labelled so
    from flow.metrics import describe

    assert m["detailedroute__route__wirelength"] == m["globalroute__route__wirelength__estimate"] > 0
    assert "estimate" in describe("detailedroute__route__wirelength").meaning
    assert m["globalroute__timing__setup__ws"] == m["finish__timing__setup__ws"]
    assert m["cts__timing__setup__ws"] == m["repair_timing__setup__ws__estimate"]


def test_orfs_signoff_counts_match_opensta(gcd_run, nangate45, tmp_path):
    """Endpoint violation counts, wns_percent_delay and the DRV slack/limit ratios against
    OpenSTA 3.1 (sta::endpoint_violation_count, find_timing_paths, max_*_check_slack_limit) on the
    routed gcd with a clock tight enough that setup and hold both fail at many endpoints."""
    import gzip

    from flow.engines import sta
    from flow.metrics import signoff_orfs_metrics
    from flow.report import pd
    from flow.stages.signoff import run_signoff
    from tests.signoff.opensta import run_sta

    run = gcd_run.run_dir
    views = json.loads((pd.stage_dirs(run, json.loads((run / "run.json").read_text()))["signoff"]
                        / "state_out.json").read_text())["views"]
    netlist, spef = run / views["verilog"], run / views["spef"]
    lib = nangate45.corner("typical").liberty[0]
    plain = tmp_path / "typical.lib"
    plain.write_bytes(gzip.decompress(lib.read_bytes()) if lib.suffix == ".gz" else lib.read_bytes())
    sdc = tmp_path / "tight.sdc"
    sdc.write_text("create_clock -name core_clock -period 0.45 [get_ports clk]\n"
                   "set_clock_uncertainty -hold 0.2 [get_clocks core_clock]\n"
                   "set_input_delay 0.09 -clock core_clock [delete_from_list [all_inputs] [get_ports clk]]\n"
                   "set_output_delay 0.09 -clock core_clock [all_outputs]\n")
    res = run_signoff([netlist], "gcd", {"typical": sta.load_liberty(plain)}, sdc, spef=spef, do_power=False)
    ours = signoff_orfs_metrics(res.timing)
    ref = run_sta(f"read_liberty {plain}\nread_verilog {netlist}\nlink_design gcd\nread_sdc {sdc}\n"
                  f"read_spef {spef}\nreport_wns\n"
                  "puts \"svc [sta::endpoint_violation_count max]\"\n"
                  "puts \"hvc [sta::endpoint_violation_count min]\"\n"
                  "set p [lindex [find_timing_paths -sort_by_slack] 0]\n"
                  "puts \"crit [sta::format_time [[$p path] arrival] 6] [sta::format_time [[$p path] slack] 6]\"\n"
                  "puts \"slewlim [sta::max_slew_check_slack_limit]\"\n"
                  "puts \"caplim [sta::max_capacitance_check_slack_limit]\"\n"
                  "puts \"fanlim [sta::max_fanout_check_slack_limit]\"\n", tmp_path)
    val = {ln.split()[0]: ln.split()[1:] for ln in ref.stdout.splitlines() if ln.split()[:1] in (
        ["svc"], ["hvc"], ["crit"], ["slewlim"], ["caplim"], ["fanlim"])}
    assert ours["finish__timing__drv__setup_violation_count"] == int(val["svc"][0]) > 10
    assert ours["finish__timing__drv__hold_violation_count"] == int(val["hvc"][0]) > 10
    arrival, slack = map(float, val["crit"])
    assert ours["finish__timing__wns_percent_delay"] == pytest.approx(slack / arrival * 100, abs=0.01)
    assert ours["finish__timing__drv__max_slew_limit"] == pytest.approx(float(val["slewlim"][0]), abs=1e-4)
    assert ours["finish__timing__drv__max_cap_limit"] == pytest.approx(float(val["caplim"][0]), abs=1e-4)
    # no fanout limit in Nangate45: OpenSTA's INF/INF
    assert ours["finish__timing__drv__max_fanout_limit"] == float(val["fanlim"][0]) == 1.0
    assert ours["constraints__clocks__details"] == ["core_clock: 0.4500"]


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
    assert dom.stdout.count('<img class="fig"') >= 8
    assert "<h2>Layout</h2>" in dom.stdout and "<h3>Worst paths</h3>" in dom.stdout  # the PD views render
    subprocess.run([chromium, *flags, f"--screenshot={shot}", "--window-size=1280,2000", url],
                   capture_output=True, timeout=120, check=True)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000  # a rendered page, not a blank one


def test_sweep_report_links_points_and_reuses_synthesis(tmp_path, nangate45):
    from flow.sweep import read_sweep, run_sweep

    p = tmp_path / "s.toml"
    p.write_text(f'base = "{DESIGNS}/gcd/config.toml"\nto_stage = "floorplan"\n'
                 'metrics = ["floorplan__design__core__area", "floorplan__design__utilization", "finish__power__total"]\n'
                 "[parameters]\nCORE_UTILIZATION = [30, 45]\n")
    out = tmp_path / "out"
    table = run_sweep(read_sweep(p), out, executor="local", jobs=1)
    assert list(table["status"]) == ["stopped", "stopped"]
    seed = json.loads(next((out / "shared").rglob("run.json")).read_text())
    seed_synth = next(s for s in seed["stages"] if s["id"] == "synth")
    text = (out / "report.html").read_text()
    for run_dir, util in zip(table["run_dir"], table["floorplan__design__instance__utilization"], strict=True):
        info = json.loads((Path(run_dir) / "run.json").read_text())
        synth = next(s for s in info["stages"] if s["id"] == "synth")
        assert synth["status"] == "done" and synth["seconds"] == seed_synth["seconds"]  # reused, not re-run
        link = os.path.relpath(Path(run_dir) / "report.html", out)
        assert f"<a href='{link}'>" in text and (Path(run_dir) / "report.html").is_file()
        from flow.metrics import format_number

        assert f"<td class='num'>{format_number(util * 100)}</td>" in text  # shown in %
    assert "floorplan__design__instance__utilization (%)" in text and "<style>" in text
    assert "finish__power__total (mW)" in text
    chromium = require_tool("chromium")
    shot = tmp_path / "sweep.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,900",
                    (out / "report.html").as_uri()], capture_output=True, timeout=120, check=True)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # the styled page rendered
