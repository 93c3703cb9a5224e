"""Dataset loaders on small files in the real formats, written here: CIFAR-10 python batches
(through the restricted unpickler: a hostile pickle never runs), CIFAR-10 binary batches,
Fer2013 CSV; errors name the file (and line) and the CLI prints one line with exit code 2."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from typer.testing import CliRunner

from convnet_opt.cli import app
from convnet_opt.data import load_cifar10, load_fer2013
from flow.errors import ConfigError, FormatError


class _Hostile:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write_py_batches(d, rng, n=4, protocol=2):
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": name.encode(), b"labels": rng.integers(0, 10, n).tolist(),
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"x.png"] * n}
        (d / name).write_bytes(pickle.dumps(batch, protocol=protocol))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_python_batches_restricted_unpickler(tmp_path, protocol):
    rng = np.random.default_rng(0)
    _write_py_batches(tmp_path, rng, protocol=protocol)
    x, y = load_cifar10(tmp_path, "train")
    xt, yt = load_cifar10(tmp_path, "test")
    assert x.shape == (20, 3, 32, 32) and xt.shape == (4, 3, 32, 32) and x.dtype == np.float32
    raw = pickle.loads((tmp_path / "data_batch_2").read_bytes())  # noqa: S301 - our own file
    np.testing.assert_array_equal(x[4:8], raw[b"data"].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    assert y[4:8].tolist() == raw[b"labels"]


def test_cifar10_hostile_pickle_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    _write_py_batches(tmp_path, rng)
    marker = tmp_path / "pwned"
    (tmp_path / "data_batch_3").write_bytes(pickle.dumps({b"data": _Hostile(str(marker)), b"labels": []}, protocol=2))
    with pytest.raises(FormatError, match=r"data_batch_3: not a CIFAR-10 batch: refused to load posix.system"):
        load_cifar10(tmp_path, "train")
    assert not marker.exists()
    # the same through the CLI: one line, exit code 2, the file named, nothing executed
    r = CliRunner().invoke(app, ["pq", "--dataset", "cifar10", "--model", "resnet8", "--data-path", str(tmp_path),
                                 "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "data_batch_3" in r.output and len(r.output.strip().splitlines()) == 1
    assert not marker.exists()
    # a wrong shape is named too
    (tmp_path / "data_batch_3").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(FormatError, match=r"data_batch_3: CIFAR-10 batch data \(2, 10\)"):
        load_cifar10(tmp_path, "train")


def test_cifar10_binary_batches(tmp_path):
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        rec = np.concatenate([rng.integers(0, 10, (3, 1)), rng.integers(0, 256, (3, 3072))], axis=1).astype(np.uint8)
        (d / name).write_bytes(rec.tobytes())
    x, y = load_cifar10(tmp_path, "train")
    first = np.frombuffer((d / "data_batch_1.bin").read_bytes(), np.uint8).reshape(-1, 3073)
    assert x.shape == (15, 3, 32, 32) and y[:3].tolist() == first[:, 0].tolist()
    np.testing.assert_array_equal(x[0], first[0, 1:].reshape(3, 32, 32).astype(np.float32) / 255.0)
    (d / "data_batch_4.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(FormatError, match="data_batch_4.bin: 100 bytes"):
        load_cifar10(tmp_path, "train")
    with pytest.raises(ConfigError, match="no CIFAR-10 batches"):
        load_cifar10(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path, "train")


def test_fer2013_csv(tmp_path):
    rng = np.random.default_rng(2)
    rows = ["emotion,pixels,Usage"]
    usage = ["Training"] * 5 + ["PublicTest"] * 2 + ["PrivateTest"] * 3
    pix = rng.integers(0, 256, (len(usage), 2304))
    for k, u in enumerate(usage):
        rows.append(f"{k % 7},{' '.join(map(str, pix[k]))},{u}")
    f = tmp_path / "fer2013.csv"
    f.write_text("\n".join(rows) + "\n")
    x, y = load_fer2013(tmp_path, "train")
    xv, _ = load_fer2013(f, "validation")
    xt, yt = load_fer2013(f, "test")
    assert x.shape == (5, 1, 48, 48) and xv.shape == (2, 1, 48, 48) and yt.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(x[1, 0], pix[1].reshape(48, 48).astype(np.float32) / 255.0)
    rows[4] = "3,1 2 3,Training"  # file line 5 (the header is line 1)
    f.write_text("\n".join(rows) + "\n")
    with pytest.raises(FormatError, match=r"fer2013.csv:5: label 3 / 3 pixels"):
        load_fer2013(f, "train")
    f.write_text("a,b,c\n")
    with pytest.raises(FormatError, match=r"fer2013.csv:1: expected the header"):
        load_fer2013(f, "train")
