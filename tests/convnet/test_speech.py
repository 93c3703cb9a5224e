"""Speech Commands loader on tiny wav files written here: folders, splits, MFCC by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from convnet_opt.models import DSCNN
from convnet_opt.speech import load_speech_commands, mel_filterbank, mfcc, read_wav, which_set
from flow.errors import ConfigError, FormatError


def _tone(freq: float, sr: int = 16000, n: int = 16000, amp: float = 0.5) -> np.ndarray:
    t = np.arange(n) / sr
    return (amp * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)


@pytest.fixture
def tiny_speech(tmp_path):
    for word, f in (("yes", 440.0), ("no", 1800.0)):
        (tmp_path / word).mkdir()
        for k in range(3):
            wavfile.write(tmp_path / word / f"spk{k}_nohash_0.wav", 16000, _tone(f * (1 + 0.01 * k)))
    (tmp_path / "_background_noise_").mkdir()
    wavfile.write(tmp_path / "_background_noise_" / "noise.wav", 16000, _tone(50.0))
    # a short clip at 8 kHz: resampled and zero-padded to 1 s
    wavfile.write(tmp_path / "no" / "short_nohash_0.wav", 8000, _tone(1800.0, sr=8000, n=4000))
    (tmp_path / "validation_list.txt").write_text("yes/spk1_nohash_0.wav\n")
    (tmp_path / "testing_list.txt").write_text("no/spk2_nohash_0.wav\n")
    return tmp_path


def test_loader_splits_and_shapes(tiny_speech):
    x, y, names = load_speech_commands(tiny_speech, "train")
    assert names == ["no", "yes"]  # background noise folder skipped
    assert x.shape == (5, 1, 49, 10) and x.dtype == np.float32   # Hello-Edge 49 frames x 10 MFCC
    assert sorted(y.tolist()) == [0, 0, 0, 1, 1]
    xv, yv, _ = load_speech_commands(tiny_speech, "validation")
    xt, yt, _ = load_speech_commands(tiny_speech, "test")
    assert yv.tolist() == [1] and yt.tolist() == [0]
    xa, _, _ = load_speech_commands(tiny_speech, "all", labels=["yes"])
    assert len(xa) == 3
    # the two words are separable on the features (low vs high tone)
    assert np.abs(x[y == 0].mean(0) - x[y == 1].mean(0)).max() > 1.0
    assert DSCNN(in_ch=1, classes=2, width=8, blocks=1)(torch.tensor(x)).shape == (5, 2)


def test_mfcc_by_hand():
    sr = 16000
    fb = mel_filterbank(40, 1024, sr)
    assert fb.shape == (40, 513) and np.all(fb >= 0) and np.all(fb.max(1) > 0.5)
    x = np.sin(2 * np.pi * 1000 * np.arange(sr) / sr)
    m = mfcc(x, sr)
    assert m.shape == (49, 10)
    # every frame sees the same stationary tone: identical coefficients up to float error
    assert np.allclose(m, m[0], atol=1e-3)
    # c0 is the mean log mel energy x sqrt(40) (orthonormal DCT-II)
    frame = x[:640] * np.hanning(641)[:-1]
    mel = (np.abs(np.fft.rfft(frame, 1024)) ** 2 / 1024) @ fb.T
    assert m[0, 0] == pytest.approx(np.log(mel + 1e-6).sum() / np.sqrt(40), rel=1e-4)


def test_hash_split_without_lists(tiny_speech):
    (tiny_speech / "validation_list.txt").unlink()
    (tiny_speech / "testing_list.txt").unlink()
    sets = {which_set(f"yes/spk{k}_nohash_{j}.wav") for k in range(50) for j in range(2)}
    assert sets == {"train", "validation", "test"}
    assert which_set("yes/abc_nohash_0.wav") == which_set("no/abc_nohash_7.wav")  # same speaker, same split
    files = [f"{w}/{p.name}" for w in ("yes", "no") for p in (tiny_speech / w).glob("*.wav")]
    for split in ("train", "validation", "test"):
        k = sum(which_set(f) == split for f in files)
        if k:
            assert len(load_speech_commands(tiny_speech, split)[0]) == k
        else:
            with pytest.raises(ConfigError, match="no wav files"):
                load_speech_commands(tiny_speech, split)


def test_errors(tiny_speech, tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_speech_commands(tmp_path / "missing")
    with pytest.raises(ConfigError, match="unknown split"):
        load_speech_commands(tiny_speech, "dev")
    (tiny_speech / "yes" / "broken_nohash_0.wav").write_bytes(b"RIFF....junk")
    with pytest.raises(FormatError, match="broken_nohash_0.wav"):
        load_speech_commands(tiny_speech, "all")


def test_kws12_standard_setup(tmp_path):
    """12 classes: silence, unknown, ten keywords; unknown and silence each ~10 % of the keyword
    clips; MFCC normalised per coefficient with the training statistics."""
    from convnet_opt.speech import KWS12_LABELS, load_kws12

    rng = np.random.default_rng(0)
    words = {"yes": 440.0, "no": 900.0, "stop": 1300.0, "cat": 2000.0, "dog": 2600.0}
    for w, f in words.items():
        (tmp_path / w).mkdir()
        for k in range(10):
            wavfile.write(tmp_path / w / f"s{k}_nohash_0.wav", 16000, _tone(f * (1 + 0.003 * k)))
    (tmp_path / "_background_noise_").mkdir()
    wavfile.write(tmp_path / "_background_noise_" / "white.wav", 16000,
                  (rng.normal(0, 0.1, 3 * 16000) * 32767).astype(np.int16))
    (tmp_path / "validation_list.txt").write_text("".join(f"{w}/s0_nohash_0.wav\n" for w in words))
    (tmp_path / "testing_list.txt").write_text("".join(f"{w}/s1_nohash_0.wav\n" for w in words))
    x, y, norm = load_kws12(tmp_path, "train", seed=0)
    assert KWS12_LABELS[:2] == ("_silence_", "_unknown_") and len(KWS12_LABELS) == 12
    kw = {KWS12_LABELS.index(w) for w in ("yes", "no", "stop")}
    n_kw = int(sum(int(v in kw) for v in y))
    assert n_kw == 24                                   # 8 training clips of each keyword
    assert int((y == 1).sum()) == round(0.1 * n_kw)     # unknown: cat/dog clips, 10 %
    assert int((y == 0).sum()) == round(0.1 * n_kw)     # silence: background crops, 10 %
    assert set(y.tolist()) <= set(range(12)) and x.shape[1:] == (1, 49, 10)
    # normalised with the training stats: zero mean, unit deviation per coefficient
    np.testing.assert_allclose(x.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(0, 1, 2)), 1, atol=1e-3)
    xv, yv, _ = load_kws12(tmp_path, "validation", seed=0, norm=norm)
    assert sorted(yv[yv >= 2].tolist()) == sorted(kw) and len(xv) == len(yv)
    raw = mfcc(read_wav(tmp_path / "yes" / "s0_nohash_0.wav", 16000))
    i = int(np.nonzero(yv == KWS12_LABELS.index("yes"))[0][0])
    np.testing.assert_allclose(xv[i, 0], (raw - norm[0]) / norm[1], rtol=1e-4, atol=1e-4)
