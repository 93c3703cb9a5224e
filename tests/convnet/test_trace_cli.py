"""`vhflow convnet trace` end to end: a synthesis-only run of a 2×2 mac_array, a uniform 8-bit
point and a P&Q checkpoint at mixed precision, traced on the netlist; the numbers in trace.json
checked against what the pieces compute on their own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from convnet_opt.energy import (
    EnergyModel,
    array_cycles,
    calibrate_from_trace,
    layer_work,
    network_energy,
    trace_agreement,
)
from convnet_opt.prune_quantize import Point, save_compressed
from convnet_opt.trace import quantised_accuracy
from plugins.convnet_activity.trace_cmd import array_bits, load_data

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("gatesim")


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory, nangate45) -> Path:
    d = tmp_path_factory.mktemp("trace_cli")
    src = REPO / "designs/mac_array/src"
    (d / "config.toml").write_text(
        'DESIGN_NAME = "mac_array"\nPLATFORM = "nangate45"\n'
        f'VERILOG_FILES = ["{src / "mac_pe.v"}", "{src / "mac_array.v"}"]\nSDC_FILE = "{src / "constraint.sdc"}"\n'
        "[VERILOG_TOP_PARAMS]\nROWS = 2\nCOLS = 2\nACC_W = 20\n")
    r = subprocess.run([sys.executable, "-m", "flow.cli", "run", str(d / "config.toml"), "--runs-dir", str(d / "runs"),
                        "--tag", "s", "--to", "synth", "-q"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    runs = sorted((d / "runs").glob("mac_array/**/config.resolved.json"))  # runs/<design>[/<platform>]/<tag>
    assert runs, r.stderr
    return runs[0].parent


def test_array_bits_round_up():
    assert [array_bits(b) for b in (2, 3, 4, 6, 8)] == [2, 4, 4, 8, 8]


def test_trace_uniform_and_pq_checkpoint(tmp_path, synth_run, trained_lenet, digits):
    bits = {"features.0": 8, "features.3": 3, "classifier.1": 4, "classifier.3": 6, "classifier.5": 8}
    point = Point("mixed", 12345, 2000, 0.0, 0.0, bits, {}, encoder="dense")
    save_compressed(tmp_path / "ck.pt", trained_lenet, point, "lenet5", digits.input_shape, 10)
    torch.save(trained_lenet.state_dict(), tmp_path / "fp32.pt")  # the same weights at every point
    out = tmp_path / "trace"
    r = subprocess.run([sys.executable, "-m", "flow.cli", "convnet", "trace", str(synth_run), "--out", str(out),
                        "--bits", "8", "--bits", "4", "--checkpoint", str(tmp_path / "ck.pt"),
                        "--weights", str(tmp_path / "fp32.pt"), "--images", "1", "--max-tiles", "3"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "trace.json").read_text())
    p8, p4, pq = doc["operating_points"]
    assert p8["label"] == "8-bit" and pq["label"] == "P&Q ck" and pq["flash_bytes"] == 12345
    # layer precisions on the array: 3 → 4 and 6 → 8 bits
    assert pq["bits"] == {"features.0": 8, "features.3": 4, "classifier.1": 4, "classifier.3": 8, "classifier.5": 8}
    # the accuracy reported is the checkpoint's at those precisions
    _, _, xte, yte = load_data("digits", None)
    assert pq["accuracy"] == pytest.approx(quantised_accuracy(trained_lenet.eval(), xte, yte, pq["bits"]))
    # a 4-bit layer packs two products per PE: about half the cycles of the same layer at 8 bits
    layers8 = {ly["name"]: ly for ly in doc["layers"]}
    layers_pq = {ly["name"]: ly for ly in json.loads((out / "pq_ck/trace.json").read_text())["layers"]}
    for name in ("features.3", "classifier.1"):
        assert layers_pq[name]["cycles"] < 0.75 * layers8[name]["cycles"]
    assert layers_pq["features.0"]["cycles"] == layers8["features.0"]["cycles"]
    # mixed precision costs less energy per inference than all 8-bit, on the same netlist
    assert 0 < pq["energy_per_inference_j"] < p8["energy_per_inference_j"]
    assert (out / "trace.saif").is_file() and (out / "pq_ck/trace.saif").is_file()

    # the Adaptive ConvNets energy model calibrated on the uniform 8/4-bit traces: its cycles are
    # the array's schedule, and it predicts every point — the mixed-precision checkpoint was not
    # part of the fit — within 10 % of the gate-level energy
    em = calibrate_from_trace(EnergyModel.load("mac_array"), out / "trace.json")
    toml = EnergyModel.load("mac_array")
    assert (em.rows, em.cols) == (2, 2) and all(em.cycle_pj[b] != toml.cycle_pj[b] for b in (8, 4))
    work = {w.name: w for w in layer_work(trained_lenet, digits.input_shape)}
    for ly in layers_pq.values():
        assert array_cycles(work[ly["name"]], ly["bits"], 2, 2) == ly["cycles"]
    # the fitted model alone (no per-layer table) on the uniform points it was fitted to
    fitted = calibrate_from_trace(EnergyModel.load("mac_array"), out / "trace.json", per_layer=False)
    assert all(abs(a["rel_error"]) < 0.10 for a in trace_agreement(fitted, out / "trace.json")[:2])
    agree = trace_agreement(em, out / "trace.json")
    assert [a["label"] for a in agree] == ["8-bit", "4-bit", "P&Q ck"]
    assert agree == doc["energy_model"]["agreement"]  # what `convnet trace` wrote
    assert all(abs(a["rel_error"]) < 0.10 for a in agree), agree
    model_pq = network_energy(em, list(work.values()), pq["bits"], part="array")
    assert model_pq == pytest.approx(pq["energy_per_inference_j"] * 1e12, rel=0.10)
    assert p4["energy_per_inference_j"] < p8["energy_per_inference_j"]


def test_trace_rejects_checkpoint_for_other_inputs(tmp_path, synth_run):
    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    save_compressed(tmp_path / "bad.pt", m, Point("x", 1, 1, 0, 0, {}, {}), "lenet5", (1, 28, 28), 10)
    r = subprocess.run([sys.executable, "-m", "flow.cli", "convnet", "trace", str(synth_run), "--out",
                        str(tmp_path / "t"), "--checkpoint", str(tmp_path / "bad.pt")], capture_output=True, text=True,
                       cwd=REPO)
    assert r.returncode != 0
    assert "bad.pt" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "t/trace.json").exists()
