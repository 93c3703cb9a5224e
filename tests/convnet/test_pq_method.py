"""P&Q method pieces behind the LeNet-5/MNIST figures: the per-layer best encoder (the smallest
real encoding, recorded in the image so the C decoder and the accounting agree), distillation
from the fp32 network in fine-tuning, and half pruning steps near the knee."""

from __future__ import annotations

import struct

import numpy as np
import torch
from torch import nn

from convnet_opt.encoders import encode
from convnet_opt.memory import (
    BEST_ENCODERS,
    ENCODER_ID,
    LAYER_DESC,
    NET_HEADER,
    flash_bytes,
    flash_table,
    footprint,
    quantize,
    ram_table,
    serialize,
    weight_layers,
)
from convnet_opt.models import LeNet5
from convnet_opt.prune_quantize import PQConfig, PruneQuantize
from convnet_opt.train import Data, evaluate, train

BITS = {"features.0": 8, "features.3": 4, "classifier.1": 2, "classifier.3": 3, "classifier.5": 6}


def _lenet_with_sparse_fc1() -> LeNet5:
    torch.manual_seed(3)
    m = LeNet5(size=16).eval()
    with torch.no_grad():  # fc1 90 % zeros: a sparse encoder beats dense there, not elsewhere
        w = m.classifier[1].weight
        w[w.abs() < w.abs().flatten().kthvalue(int(0.9 * w.numel())).values] = 0
    return m


def test_best_encoder_is_the_smallest_per_layer_and_recorded_in_the_image():
    model = _lenet_with_sparse_fc1()
    table = {r.name: r for r in flash_table(model, BITS, "best")}
    chosen = {}
    for name, m in weight_layers(model):
        q, _ = quantize(m.weight, BITS[name])
        sizes = {e: len(encode(e, q, BITS[name])) for e in BEST_ENCODERS}
        assert table[name].weight_bytes == min(sizes.values())
        assert sizes[table[name].encoder] == min(sizes.values())
        chosen[name] = table[name].encoder
    assert chosen["classifier.1"] != "dense"  # the sparse layer got a sparse encoding
    assert len(set(chosen.values())) >= 2     # and it is a per-layer choice
    # the image is as long as the accounting and each descriptor names the chosen encoder
    image = serialize(model, BITS, "best")
    assert len(image) == flash_bytes(model, BITS, "best")
    assert flash_bytes(model, BITS, "best") < min(flash_bytes(model, BITS, e) for e in BEST_ENCODERS)
    off = NET_HEADER.size
    for name, _ in weight_layers(model):
        desc = LAYER_DESC.unpack_from(image, off)
        assert desc[2] == ENCODER_ID[chosen[name]] and desc[1] == BITS[name]
        cout = desc[4]
        off += LAYER_DESC.size + desc[-1] + 5 * cout + (4 * cout if desc[3] & 1 else 0) + struct.calcsize("<f")
    # RAM: a decode buffer only for the layers that are not dense (dense runs from flash)
    rows = {r["layer"]: r for r in ram_table(model, (1, 16, 16), BITS, "best")}
    for name, m in weight_layers(model):
        want = 0 if chosen[name] == "dense" else (m.weight.numel() * BITS[name] + 7) // 8
        assert rows[name]["decode"] == want
    assert footprint(model, (1, 16, 16), BITS, "best")[0] == len(image)


def test_distillation_follows_the_teacher_not_the_labels():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 8, generator=g)
    teacher = nn.Linear(8, 4)
    with torch.no_grad():
        teacher.weight.copy_(torch.randn(4, 8, generator=g) * 3)
    y_noise = torch.randint(0, 4, (600,), generator=g)  # labels that have nothing to do with the teacher
    y_teacher = teacher(x).argmax(1)

    def student(distill: float) -> float:
        torch.manual_seed(1)
        s = nn.Linear(8, 4)
        train(s, (x.numpy(), y_noise.numpy()), 10, 5e-2, 0, batch_size=100, teacher=teacher, distill=distill)
        return evaluate(s, x.numpy(), y_teacher.numpy())

    labels_only, distilled = student(0.0), student(1.0)
    assert distilled > 0.85 and labels_only < 0.5


def test_half_pruning_steps_are_offered_and_remove_a_sixteenth():
    model = LeNet5(size=16)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 1, 16, 16)).astype(np.float32)
    y = rng.integers(0, 10, 40)
    data = Data(x, y, x, y, x, y)
    pq = PruneQuantize(model, data, PQConfig(eval_samples=20))
    moves = set(pq.moves())
    channels = {g.producer: g.channels for g in pq.groups}
    assert channels == {"features.0": 6, "features.3": 16, "classifier.1": 120, "classifier.3": 84}
    halves = {name for kind, name in moves if kind == "prune_half"}
    assert halves == {"features.3", "classifier.1", "classifier.3"}  # 6 filters: 1/16 rounds to the 1/8 step
    for kind, name in (("prune_half", "classifier.1"), ("prune", "classifier.1"), ("prune_half", "classifier.3")):
        before = pq._do((kind, name))
        removed = channels[name] - len(pq.keeps[name])
        assert removed == {"prune_half": round(channels[name] / 16), "prune": round(channels[name] / 8)}[kind]
        pq._restore(before)
    off = PruneQuantize(LeNet5(size=16), data, PQConfig(eval_samples=20, half_steps=False))
    assert not any(kind == "prune_half" for kind, _ in off.moves())
