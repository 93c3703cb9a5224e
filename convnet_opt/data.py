"""Datasets: MNIST (IDX files), CIFAR-10 (python or binary batches), Fer2013 (CSV), scikit-learn
digits (always there).

CIFAR-10's python batches are pickles: they are read with an unpickler that only admits the
numpy/bytes constructors the format uses, so a hostile file cannot run code (issue 18).

Nothing is downloaded: MNIST is looked up in `VHFLOW_DATASETS`, then `../shared/datasets`
beside the checkout, or a path the caller gives; the IDX format is read directly (magic
0x00000801 labels / 0x00000803 images, big-endian sizes) and archive checksums are not checked.
"""

from __future__ import annotations

import csv
import io
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


# what a CIFAR-10 python batch (a dict of bytes, lists and one uint8 array) may construct
_CIFAR_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
                  ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode")}


class _CifarUnpickler(pickle.Unpickler):
    """Refuses every global outside `_CIFAR_GLOBALS` (no os.system, no eval, no imports)."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _CIFAR_GLOBALS:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: a CIFAR-10 batch holds only "
                                         "arrays, lists and bytes")
        return super().find_class(module, name)


def read_cifar_pickle(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One python-format batch: (uint8 N×3072, int64 labels), through the restricted unpickler."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise FormatError(path, None, f"cannot read CIFAR-10 batch: {exc.strerror}") from None
    try:
        batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            ImportError) as exc:
        raise FormatError(path, None, f"not a CIFAR-10 batch: {exc}") from None
    if not isinstance(batch, dict):
        raise FormatError(path, None, f"not a CIFAR-10 batch: a {type(batch).__name__}, not a dict")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if not isinstance(data, np.ndarray) or not isinstance(labels, list | np.ndarray):
        raise FormatError(path, None, "not a CIFAR-10 batch: no data array / labels list")
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != data.shape[0]:
        raise FormatError(path, None, f"CIFAR-10 batch data {data.shape} with {len(labels)} labels "
                                      "(expected N x 3072 and N labels)")
    y = np.asarray(labels, dtype=np.int64)
    if y.size and (y.min() < 0 or y.max() > 9):
        raise FormatError(path, None, "CIFAR-10 labels outside 0..9")
    return np.asarray(data, dtype=np.uint8), y


def read_cifar_bin(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary-format batch (`data_batch_1.bin`): records of 1 label byte + 3072 pixel bytes."""
    try:
        raw = np.frombuffer(Path(path).read_bytes(), dtype=np.uint8)
    except OSError as exc:
        raise FormatError(path, None, f"cannot read CIFAR-10 batch: {exc.strerror}") from None
    if raw.size == 0 or raw.size % 3073:
        raise FormatError(path, None, f"{raw.size} bytes is not a whole number of 3073-byte CIFAR-10 records")
    rec = raw.reshape(-1, 3073)
    if rec[:, 0].max() > 9:
        raise FormatError(path, None, "CIFAR-10 labels outside 0..9")
    return rec[:, 1:].copy(), rec[:, 0].astype(np.int64)


def load_cifar10(path: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 from a user path: python batches (`data_batch_1..5`, `test_batch`) or the binary
    ones (`data_batch_1..5.bin`, `test_batch.bin`), also inside `cifar-10-batches-{py,bin}`."""
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"CIFAR-10 directory {root} not found")
    stems = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    for d in (root, root / "cifar-10-batches-py", root / "cifar-10-batches-bin"):
        if (d / stems[0]).is_file():
            parts = [read_cifar_pickle(d / s) for s in stems]
            break
        if (d / f"{stems[0]}.bin").is_file():
            parts = [read_cifar_bin(d / f"{s}.bin") for s in stems]
            break
    else:
        raise ConfigError(f"{root}: no CIFAR-10 batches ({stems[0]} or {stems[0]}.bin)")
    x = np.concatenate([p[0] for p in parts]).reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    return x, np.concatenate([p[1] for p in parts])


FER_USAGE = {"train": ("Training",), "validation": ("PublicTest",), "test": ("PrivateTest",)}


def load_fer2013(path: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Fer2013 (`fer2013.csv`: emotion,pixels,Usage; 48×48 grey, 7 classes) from a user path (the
    file or its directory). Splits as the challenge: Training / PublicTest (validation) /
    PrivateTest (test). A malformed row is a FormatError naming the file and line."""
    p = Path(path)
    if p.is_dir():
        p = p / "fer2013.csv"
    if not p.is_file():
        raise ConfigError(f"Fer2013 file {p} not found")
    if split not in FER_USAGE:
        raise ConfigError(f"unknown split {split!r} (train, validation, test)")
    xs, ys = [], []
    with open(p, newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        if header is None or [h.strip() for h in header[:3]] != ["emotion", "pixels", "Usage"]:
            raise FormatError(p, 1, "expected the header emotion,pixels,Usage")
        for line, row in enumerate(rows, start=2):
            if len(row) < 3:
                raise FormatError(p, line, f"{len(row)} fields, expected 3")
            if row[2].strip() not in FER_USAGE[split]:
                continue
            try:
                label = int(row[0])
                px = np.array(row[1].split(), dtype=np.int64)
            except ValueError as exc:
                raise FormatError(p, line, f"not a label and pixel list: {exc}") from None
            if not 0 <= label <= 6 or px.size != 48 * 48 or px.min() < 0 or px.max() > 255:
                raise FormatError(p, line, f"label {label} / {px.size} pixels (expected 0..6 and 2304 values "
                                           "in 0..255)")
            xs.append(px.astype(np.uint8))
            ys.append(label)
    if not xs:
        raise ConfigError(f"{p}: no rows for split {split!r}")
    return (np.stack(xs).reshape(-1, 1, 48, 48).astype(np.float32) / 255.0), np.asarray(ys, dtype=np.int64)


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
