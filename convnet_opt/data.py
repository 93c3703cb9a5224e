"""Datasets: MNIST (IDX files), CIFAR-10 (python batches), scikit-learn digits (always there).

Nothing is downloaded: MNIST is looked up in `VHFLOW_DATASETS`, then `../shared/datasets`
beside the checkout, or a path the caller gives; the IDX format is read directly (magic
0x00000801 labels / 0x00000803 images, big-endian sizes) and archive checksums are not checked.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from flow.errors import ConfigError, FormatError
from flow.util import read_bytes_maybe_gzip

REPO = Path(__file__).resolve().parents[1]


def dataset_dirs() -> list[Path]:
    out = []
    if os.environ.get("VHFLOW_DATASETS"):
        out += [Path(p) for p in os.environ["VHFLOW_DATASETS"].split(os.pathsep) if p]
    out += [REPO.parent / "shared" / "datasets", Path.cwd().parent / "shared" / "datasets"]
    return out


def find_dataset(name: str, path: Path | None = None) -> Path:
    if path is not None:
        if not Path(path).is_dir():
            raise ConfigError(f"dataset directory {path} not found")
        return Path(path)
    for d in dataset_dirs():
        if (d / name).is_dir():
            return d / name
    raise ConfigError(f"dataset {name} not found in {', '.join(map(str, dataset_dirs()))} (set VHFLOW_DATASETS)")


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (.gz or plain)."""
    path = Path(path)
    raw = read_bytes_maybe_gzip(path, "IDX file")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise FormatError(path, None, "not an IDX file (bad magic)")
    dtype = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}.get(raw[2])
    if dtype is None:
        raise FormatError(path, None, f"unknown IDX element type 0x{raw[2]:02x}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise FormatError(path, None, f"IDX data has {data.size} elements, header says {dims}")
    return data.reshape(dims)


def load_mnist(path: Path | None = None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(images float32 N×1×28×28 in [0, 1], labels int64)."""
    d = find_dataset("mnist", path)
    prefix = "train" if split == "train" else "t10k"

    def pick(stem: str) -> Path:
        for cand in (d / f"{stem}.gz", d / stem):
            if cand.exists():
                return cand
        raise ConfigError(f"{d}: missing {stem}(.gz)")

    x = read_idx(pick(f"{prefix}-images-idx3-ubyte"))
    y = read_idx(pick(f"{prefix}-labels-idx1-ubyte"))
    if x.shape[0] != y.shape[0]:
        raise FormatError(d, None, f"{x.shape[0]} images but {y.shape[0]} labels")
    return (x.astype(np.float32) / 255.0)[:, None], y.astype(np.int64)


def load_cifar10(path: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 python batches (`data_batch_1..5`, `test_batch`) from a user path."""
    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    xs, ys = [], []
    for f in files:
        p = Path(path) / f
        try:
            with open(p, "rb") as fh:
                batch = pickle.load(fh, encoding="bytes")  # noqa: S301 - the CIFAR-10 distribution format
        except OSError as exc:
            raise FormatError(p, None, f"cannot read CIFAR-10 batch: {exc.strerror}") from None
        except (pickle.UnpicklingError, EOFError) as exc:
            raise FormatError(p, None, f"not a CIFAR-10 batch: {exc}") from None
        xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.concatenate(xs).astype(np.float32) / 255.0, np.concatenate(ys)


def load_digits_split(seed: int = 0, test_fraction: float = 0.25) -> tuple[np.ndarray, ...]:
    """scikit-learn's 8×8 digits, upsampled to 1×16×16, split reproducibly."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    x = np.kron(x, np.ones((1, 2, 2), dtype=np.float32))[:, None]
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))
    n_test = int(len(x) * test_fraction)
    te, tr = idx[:n_test], idx[n_test:]
    return x[tr], d.target[tr].astype(np.int64), x[te], d.target[te].astype(np.int64)
