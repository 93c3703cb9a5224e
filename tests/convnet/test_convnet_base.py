"""convnet_opt foundations: loaders on files we write, encoders, memory accounting."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from convnet_opt.data import load_cifar10, load_digits_split, load_mnist, read_idx
from convnet_opt.encoders import ENCODERS, decode, encode, pack_bits, unpack_bits
from convnet_opt.memory import (
    Target,
    flash_bytes,
    flash_table,
    fp32_bytes,
    network_overhead,
    peak_activation_bytes,
    quantize,
    serialize,
)
from convnet_opt.models import DSCNN, LeNet5, ResNet8
from flow.errors import FormatError


def write_idx(path, arr: np.ndarray, gz=True):
    head = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    data = head + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_mnist_idx_loader(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 28, 28))
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", imgs)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([3, 1, 4, 1, 5]), gz=False)
    x, y = load_mnist(tmp_path)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32
    assert x[2, 0, 7, 9] == pytest.approx(imgs[2, 7, 9] / 255.0)
    assert y.tolist() == [3, 1, 4, 1, 5]
    (tmp_path / "bad").write_bytes(b"\x08\x00\x00\x01")
    with pytest.raises(FormatError, match="bad magic"):
        read_idx(tmp_path / "bad")
    write_idx(tmp_path / "short", imgs)
    raw = gzip.decompress((tmp_path / "short").read_bytes())[:-10]
    (tmp_path / "short").write_bytes(raw)
    with pytest.raises(FormatError, match="header says"):
        read_idx(tmp_path / "short")


def test_real_mnist_when_present():
    try:
        x, y = load_mnist(split="test")
    except Exception as exc:  # the shared dataset is optional for this project
        pytest.skip(f"MNIST not available: {exc}")
    assert x.shape == (10000, 1, 28, 28) and set(np.unique(y)) == set(range(10))


def test_cifar10_batches(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(1, 6):
        with open(tmp_path / f"data_batch_{i}", "wb") as fh:
            pickle.dump({b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [i % 10] * 4}, fh)
    x, y = load_cifar10(tmp_path)
    assert x.shape == (20, 3, 32, 32) and y[:4].tolist() == [1, 1, 1, 1]
    (tmp_path / "data_batch_3").write_bytes(b"junk")
    with pytest.raises(FormatError, match="data_batch_3"):
        load_cifar10(tmp_path)


def test_digits_split_is_reproducible():
    a = load_digits_split(seed=3)
    b = load_digits_split(seed=3)
    assert a[0].shape[1:] == (1, 16, 16) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_encoders_round_trip(encoder, bits):
    rng = np.random.default_rng(bits)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1)
    q = rng.integers(lo, hi, (12, 3, 3, 3))
    q[rng.random(q.shape) < 0.6] = 0
    q.flat[:300] = 0  # a long zero run
    data = encode(encoder, q, bits)
    assert np.array_equal(decode(encoder, data, q.shape, bits), q)


def test_encoded_sizes_by_hand():
    q = np.array([[0, 0, 3, 0], [0, 0, 0, -1]])
    assert len(encode("dense", q, 4)) == 4 + 4  # 8 values x 4 bits
    # RLE: (2 zeros, 3), (3 zeros, -1) -> 4 bytes + header
    assert len(encode("rle", q, 4)) == 4 + 4
    # bitmap: 1 byte of mask + 2 values x 4 bits
    assert len(encode("bitmap", q, 4)) == 4 + 1 + 1
    assert unpack_bits(pack_bits(np.array([-2, 1, -1, 0]), 2), 4, 2).tolist() == [-2, 1, -1, 0]


def test_quantize_and_memory_accounting_matches_serialized():
    torch.manual_seed(0)
    model = LeNet5(size=16)
    q, s = quantize(model.features[0].weight, 4)
    assert q.min() >= -8 and q.max() <= 7
    w = model.features[0].weight.detach().numpy().reshape(6, -1)
    assert np.abs(q.reshape(6, -1) * s[:, None] - w).max() <= s.max() / 2 + 1e-7
    bits = {"features.0": 8, "features.3": 4, "classifier.1": 2, "classifier.3": 4, "classifier.5": 8}
    for enc in ("dense", "lz4", "huffman"):
        table = flash_table(model, bits, enc)
        assert sum(r.flash for r in table) + network_overhead(model) == len(serialize(model, bits, enc))
        assert flash_bytes(model, bits, enc) == len(serialize(model, bits, enc))
    dense = flash_table(model, 8, "dense")
    assert sum(r.weight_bytes for r in dense) == sum(4 + r.params for r in dense)
    assert fp32_bytes(model) / sum(r.flash for r in flash_table(model, 2, "dense")) > 8


def test_peak_activation_and_targets():
    model = LeNet5(size=28)
    peak, sizes = peak_activation_bytes(model, (1, 28, 28))
    # conv1: 1x28x28 in + 6x28x28 out = 784 + 4704 bytes at 8 bits
    assert sizes[0] == 784 + 4704 and peak == max(sizes)
    assert Target.load("cortex_m7").flash_bytes == 1024 * 1024


def test_models_forward_shapes():
    assert LeNet5()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert ResNet8()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert DSCNN()(torch.zeros(2, 1, 49, 10)).shape == (2, 12)
