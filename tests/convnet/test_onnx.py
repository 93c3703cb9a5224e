"""ONNX export: integer initialisers + DequantizeLinear reproduce the compressed network; the
memory table travels in the metadata; the `convnet` CLI trains, compresses and exports."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from typer.testing import CliRunner

from convnet_opt.cli import app
from convnet_opt.memory import serialize
from convnet_opt.models import DSCNN, ResNet8
from convnet_opt.onnx_export import dequantized_weights, export_onnx, run_reference
from convnet_opt.prune_quantize import apply_masks, compact, prune_groups
from convnet_opt.train import attach_quant, bake, evaluate

BITS = {"features.0": 8, "features.3": 4, "classifier.1": 2, "classifier.3": 3, "classifier.5": 6}


def _with_int_bias(model, bits):
    """The torch model with each bias replaced by its stored int32 value (scale / 2^8 units)."""
    from convnet_opt.memory import quantize

    m = bake(model)
    for name, mod in m.named_modules():
        if isinstance(mod, torch.nn.Conv2d | torch.nn.Linear) and mod.bias is not None:
            _, s = quantize(mod.weight, bits.get(name, 8) if isinstance(bits, dict) else bits)
            s = s.astype(np.float64)
            q = np.round(mod.bias.double().numpy() / s * 256)
            mod.bias.data = torch.tensor((q * (s / 256).astype(np.float32)).astype(np.float32))
    return m


def test_pruned_quantised_lenet_round_trip(digits, trained_lenet, tmp_path):
    groups = prune_groups(trained_lenet)
    attach_quant(trained_lenet, BITS)
    keeps = {"features.0": np.arange(5), "features.3": np.arange(2, 14), "classifier.1": np.arange(0, 120, 2),
             "classifier.3": np.arange(84)}
    apply_masks(trained_lenet, groups, keeps)
    cm = compact(trained_lenet, groups, keeps)
    path = tmp_path / "lenet.onnx"
    proto = export_onnx(cm, digits.input_shape, BITS, path, encoder="lz4", meta={"dataset": "digits"})
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded)

    inits = {t.name: numpy_helper.to_array(t) for t in loaded.graph.initializer}
    for name, b in BITS.items():
        q = inits[name.replace(".", "_") + ".weight_q"]
        assert q.dtype == np.int8 and q.min() >= -(2 ** (b - 1)) and q.max() <= 2 ** (b - 1) - 1
        assert inits[name.replace(".", "_") + ".bias_q"].dtype == np.int32
    assert inits["classifier_1.weight_q"].shape == (60, 12 * 4)

    # numpy re-implementation of the dequantised weights == the weights the network ran with
    dq = dequantized_weights(loaded)
    for name, mod in cm.named_modules():
        if isinstance(mod, torch.nn.Conv2d | torch.nn.Linear):
            np.testing.assert_allclose(dq[name.replace(".", "_") + ".weight"], mod.weight.numpy(), atol=1e-7)

    props = {p.key: p.value for p in loaded.metadata_props}
    mem = json.loads(props["vhflow.memory"])
    assert mem["flash_bytes"] == len(serialize(cm, BITS, "lz4")) and mem["encoder"] == "lz4"
    assert json.loads(props["vhflow.bits"]) == BITS and props["vhflow.dataset"] == "digits"

    x = digits.x_test[:64]
    y_onnx = run_reference(proto, x)
    y_ref = _with_int_bias(cm, BITS)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(y_onnx, y_ref, atol=1e-4, rtol=1e-4)
    assert (y_onnx.argmax(1) == cm(torch.tensor(x)).argmax(1).numpy()).mean() >= 0.98
    assert evaluate(cm, x, digits.y_test[:64]) > 0.5


@pytest.mark.parametrize(("make", "shape"), [(lambda: ResNet8(width=4), (3, 12, 12)),
                                             (lambda: DSCNN(width=8, blocks=1), (1, 20, 10))])
def test_batchnorm_residual_depthwise_export(make, shape):
    torch.manual_seed(0)
    model = make()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    attach_quant(model, 4)
    proto = export_onnx(model, shape, 4)
    x = np.random.default_rng(0).random((2, *shape)).astype(np.float32)
    np.testing.assert_allclose(run_reference(proto, x), bake(model)(torch.tensor(x)).numpy(), atol=1e-4, rtol=1e-4)


def test_cli_default_pq_walks_the_front_then_export(tmp_path):
    """No --budget-kib: the walk runs until validation accuracy collapses; the front (chosen on
    validation) has >= 5 points and reaches >= 20x compression; a re-run resumes the walk."""
    runner = CliRunner()
    args = ["pq", "--model", "lenet5", "--dataset", "digits", "--epochs", "40", "--finetune", "0.15",
            "--out", str(tmp_path / "pq"), "--seed", "1"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "pq" / "pq.json").read_text())
    front, walk = doc["front"], doc["walk"]
    assert len(front) >= 5, r.output
    assert doc["fp32_bytes"] / front[-1]["flash"] >= 20, r.output
    # the stop rule: the last point is 10 points below fp32 on validation (or nothing was left)
    assert doc["stop_reason"].startswith("validation accuracy") or doc["stop_reason"] == "no move saves memory"
    if doc["stop_reason"].startswith("validation"):
        assert walk[-1]["val_acc"] < doc["fp32_val_acc"] - 0.10 <= walk[-2]["val_acc"]
    # front: flash decreasing, validation accuracy non-increasing; every front point is a walk point
    assert all(a["flash"] > b["flash"] and a["val_acc"] >= b["val_acc"] for a, b in zip(front, front[1:], strict=False))
    assert {p["label"] for p in front} <= {p["label"] for p in walk}
    labels = {b["label"] for b in doc["baselines"]}
    assert {"torch.ao PTQ int8", "torch.ao QAT int8", "uniform4", "uniform2"} <= labels
    mag = [b for b in doc["baselines"] if b["label"].startswith("magnitude")]
    assert all(b["flash"] == min(b["encoder_sizes"].values()) and len(b["encoder_sizes"]) == 5 for b in mag)
    # MCU picks: the most accurate (validation) point fitting each size
    fits16 = [p for p in walk if p["flash"] <= 16 * 1024]
    best16 = max(fits16, key=lambda p: (p["val_acc"], -p["flash"]))
    assert doc["mcu_budgets"]["flash_16KiB"] == best16["label"]
    assert "front:" in r.output and "MCU flash_16KiB" in r.output

    # resumable: the checkpoint of the finished walk is picked up, nothing is recomputed
    r2 = runner.invoke(app, args)
    assert r2.exit_code == 0, r2.output
    assert json.loads((tmp_path / "pq" / "pq.json").read_text())["walk"] == walk

    # export a reported point: ONNX with int8 activations (QDQ) run by onnxruntime on the test set
    # gives the accuracy P&Q reported for it, and the C header is the flash the accounting claims
    point = front[len(front) // 2]
    ckpt = tmp_path / "pq" / "walk" / f"{point['label']}.pt"
    r = runner.invoke(app, ["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "onnx")])
    assert r.exit_code == 0, r.output
    proto = onnx.load(str(tmp_path / "onnx" / f"{point['label']}.onnx"))
    onnx.checker.check_model(proto)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("QuantizeLinear") == 5  # one int8 activation quantiser per conv/linear layer
    import onnxruntime as ort

    from convnet_opt.cli import DatasetName, load_data

    data = load_data(DatasetName.digits, None, seed=1)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    pred = sess.run(None, {"input": data.x_test.astype(np.float32)})[0].argmax(1)
    ort_acc = float((pred == data.y_test).mean())
    assert abs(ort_acc - point["int8_act_test_acc"]) <= 0.001, (ort_acc, point["int8_act_test_acc"])
    assert abs(point["int8_act_test_acc"] - point["test_acc"]) < 0.03  # int8 activations cost little here
    header = (tmp_path / "onnx" / "c" / "vhflow_model.h").read_text()
    assert f"#define VHFLOW_MODEL_SIZE {point['flash']}u" in header


def test_cli_errors(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["pq", "--model", "vgg"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["pq", "--dataset", "mnist", "--data-path", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert r.exit_code == 2 and "not found" in r.output and len(r.output.strip().splitlines()) == 1
    r = runner.invoke(app, ["export", "--checkpoint", str(tmp_path / "none.pt")])
    assert r.exit_code == 2
    (tmp_path / "junk.pt").write_bytes(b"junk")
    r = runner.invoke(app, ["export", "--checkpoint", str(tmp_path / "junk.pt"), "--out", str(tmp_path)])
    assert r.exit_code == 2 and "not a convnet checkpoint" in r.output
