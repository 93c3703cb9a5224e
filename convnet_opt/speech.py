"""Speech Commands (Warden 2018) from a user path: wav files in one folder per word, turned
into MFCC maps (frames × coefficients) with numpy/scipy, the input of the DS-CNN.

Why our own MFCC: no torchaudio, no download; the features are the "Hello Edge" ones (40 ms
Hann windows every 20 ms over 1 s at 16 kHz → 49 frames, 40 mel bands, 10 DCT coefficients of
the log mel energies). Splits follow the dataset: `validation_list.txt` / `testing_list.txt`
when present, else its documented hash of the speaker part of the file name (10 % / 10 %).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
from scipy.fft import dct
from scipy.io import wavfile
from scipy.signal import resample_poly

from flow.errors import ConfigError, FormatError

MAX_NUM_WAVS_PER_CLASS = 2**27 - 1


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, sr: int, fmin: float = 20.0, fmax: float | None = None) -> np.ndarray:
    """Triangular HTK-mel filters, shape (n_mels, n_fft // 2 + 1)."""
    fmax = fmax or sr / 2
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    fb = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, c, hi = edges[i], edges[i + 1], edges[i + 2]
        up = (freqs - lo) / max(c - lo, 1e-9)
        down = (hi - freqs) / max(hi - c, 1e-9)
        fb[i] = np.clip(np.minimum(up, down), 0.0, None)
    return fb


def mfcc(signal: np.ndarray, sr: int = 16000, n_mfcc: int = 10, n_mels: int = 40, frame_ms: float = 40.0,
         stride_ms: float = 20.0) -> np.ndarray:
    """MFCC matrix (frames, n_mfcc) of a mono float signal."""
    flen, hop = int(sr * frame_ms / 1000), int(sr * stride_ms / 1000)
    x = np.asarray(signal, dtype=np.float64)
    if len(x) < flen:
        x = np.pad(x, (0, flen - len(x)))
    n_frames = 1 + (len(x) - flen) // hop
    idx = np.arange(flen)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[idx] * np.hanning(flen + 1)[:-1]
    n_fft = 1 << (flen - 1).bit_length()
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2 / n_fft
    mel = power @ mel_filterbank(n_mels, n_fft, sr).T
    return dct(np.log(mel + 1e-6), type=2, axis=1, norm="ortho")[:, :n_mfcc].astype(np.float32)


def read_wav(path: Path, sr: int) -> np.ndarray:
    """Mono float32 in [-1, 1] at `sr` (resampled if the file differs)."""
    try:
        rate, data = wavfile.read(path)
    except (ValueError, OSError) as exc:
        raise FormatError(path, None, f"not a readable wav file: {exc}") from None
    x = np.asarray(data)
    if x.dtype == np.int16:
        x = x.astype(np.float32) / 32768.0
    elif x.dtype == np.int32:
        x = x.astype(np.float32) / 2**31
    elif x.dtype == np.uint8:
        x = (x.astype(np.float32) - 128.0) / 128.0
    else:
        x = x.astype(np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != sr:
        g = np.gcd(int(rate), int(sr))
        x = resample_poly(x, sr // g, int(rate) // g).astype(np.float32)
    return x


def which_set(rel: str, validation_percentage: float = 10.0, testing_percentage: float = 10.0) -> str:
    """The dataset README's split: hash of the file name without its `_nohash_` suffix, so all
    clips of one speaker land in the same split."""
    base = re.sub(r"_nohash_.*$", "", Path(rel).name)
    h = int(hashlib.sha1(base.encode()).hexdigest(), 16)
    pct = (h % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if pct < validation_percentage:
        return "validation"
    if pct < validation_percentage + testing_percentage:
        return "test"
    return "train"


def load_speech_commands(path: str | Path, split: str = "train", labels: list[str] | None = None,
                         sr: int = 16000, clip_s: float = 1.0, n_mfcc: int = 10,
                         frame_ms: float = 40.0, stride_ms: float = 20.0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(MFCC maps float32 N×1×frames×n_mfcc, labels int64, label names). Folders starting with
    `_` (background noise) are skipped; with `labels`, other words are left out."""
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"Speech Commands directory {root} not found")
    if split not in ("train", "validation", "test", "all"):
        raise ConfigError(f"unknown split {split!r} (train, validation, test, all)")
    words = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("_"))
    names = list(labels) if labels is not None else words
    lists = {}
    for s, fname in (("validation", "validation_list.txt"), ("test", "testing_list.txt")):
        f = root / fname
        if f.exists():
            lists[s] = {ln.strip() for ln in f.read_text().splitlines() if ln.strip()}
    n = int(sr * clip_s)
    xs, ys = [], []
    for label, word in enumerate(names):
        for wav in sorted((root / word).glob("*.wav")):
            rel = f"{word}/{wav.name}"
            if split != "all":
                if lists:
                    where = next((s for s, files in lists.items() if rel in files), "train")
                else:
                    where = which_set(rel)
                if where != split:
                    continue
            x = read_wav(wav, sr)[:n]
            x = np.pad(x, (0, n - len(x)))
            xs.append(mfcc(x, sr, n_mfcc, frame_ms=frame_ms, stride_ms=stride_ms))
            ys.append(label)
    if not xs:
        raise ConfigError(f"{root}: no wav files for split {split!r} in {', '.join(names) or 'no label folders'}")
    return np.stack(xs)[:, None], np.asarray(ys, dtype=np.int64), names


# ---------------------------------------------------------------- the standard 12-class task

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
KWS12_LABELS = ("_silence_", "_unknown_", *KEYWORDS)  # the label order of the TensorFlow recipe


def _split_files(root: Path, split: str) -> dict[str, list[Path]]:
    """Word folder -> its wav files in `split` (lists when present, else the hash rule)."""
    lists = {}
    for s, fname in (("validation", "validation_list.txt"), ("test", "testing_list.txt")):
        f = root / fname
        if f.exists():
            lists[s] = {ln.strip() for ln in f.read_text().splitlines() if ln.strip()}
    out: dict[str, list[Path]] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
        files = []
        for wav in sorted(d.glob("*.wav")):
            rel = f"{d.name}/{wav.name}"
            where = next((s for s, fs in lists.items() if rel in fs), "train") if lists else which_set(rel)
            if where == split:
                files.append(wav)
        out[d.name] = files
    return out


def load_kws12(path: str | Path, split: str = "train", seed: int = 0, silence_pct: float = 10.0,
               unknown_pct: float = 10.0, sr: int = 16000,
               norm: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The standard keyword-spotting setup (Warden 2018; "Hello Edge"): 12 classes — silence,
    unknown and the ten keywords. Unknown: a seeded random draw from the other words, as many as
    `unknown_pct` % of the keyword clips of the split; silence: as many 1-s crops of
    `_background_noise_` recordings at a random volume in [0, 1] (zeros if there is no noise
    folder). MFCC maps are normalised per coefficient with the training split's mean and standard
    deviation (`norm`; computed here when None — pass the training one for validation/test).
    Returns (x N×1×49×10, labels, (mean, std))."""
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"Speech Commands directory {root} not found")
    if split not in ("train", "validation", "test"):
        raise ConfigError(f"unknown split {split!r} (train, validation, test)")
    files = _split_files(root, split)
    rng = np.random.default_rng(seed + {"train": 0, "validation": 1, "test": 2}[split])
    items: list[tuple[Path | None, int]] = []
    for k, word in enumerate(KEYWORDS):
        items += [(f, 2 + k) for f in files.get(word, [])]
    n_kw = len(items)
    if n_kw == 0:
        raise ConfigError(f"{root}: no keyword clips ({', '.join(KEYWORDS)}) in split {split!r}")
    others = [f for w, fs in files.items() if w not in KEYWORDS for f in fs]
    n_unknown = min(len(others), int(round(n_kw * unknown_pct / 100)))
    items += [(others[i], 1) for i in rng.choice(len(others), n_unknown, replace=False)] if n_unknown else []
    n_silence = max(1, int(round(n_kw * silence_pct / 100)))
    noise = [read_wav(f, sr) for f in sorted((root / "_background_noise_").glob("*.wav"))] \
        if (root / "_background_noise_").is_dir() else []
    n = int(sr)
    xs, ys = [], []
    for f, label in items:
        x = read_wav(f, sr)[:n]
        xs.append(mfcc(np.pad(x, (0, n - len(x)))))
        ys.append(label)
    for _ in range(n_silence):
        clip = np.zeros(n, dtype=np.float32)
        if noise:
            src = noise[int(rng.integers(len(noise)))]
            if len(src) > n:
                start = int(rng.integers(len(src) - n + 1))
                clip = src[start:start + n]
            else:
                clip = np.pad(src, (0, n - len(src)))
            clip = clip * float(rng.uniform(0, 1))
        xs.append(mfcc(clip))
        ys.append(0)
    x = np.stack(xs)[:, None]
    if norm is None:
        mean = x.mean(axis=(0, 1, 2))
        std = x.std(axis=(0, 1, 2)) + 1e-6
        norm = (mean.astype(np.float32), std.astype(np.float32))
    x = ((x - norm[0]) / norm[1]).astype(np.float32)
    return x, np.asarray(ys, dtype=np.int64), norm
