"""Shared fixtures for the ConvNet tests: sklearn digits split and a LeNet-5 trained once.

One torch thread: the models are tiny, and two threads on a shared 2-core runner spin against
each other (measured 10x slower under load)."""

from __future__ import annotations

import copy

import pytest
import torch

from convnet_opt.data import load_digits_split
from convnet_opt.train import Data, build_model, train


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def digits() -> Data:
    x, y, xt, yt = load_digits_split(seed=0)
    return Data.split(x, y, xt, yt, val_fraction=0.2, seed=0)


@pytest.fixture(scope="session")
def _lenet_state(digits):
    torch.manual_seed(0)
    m = build_model("lenet5", digits.input_shape, 10)
    train(m, digits, epochs=12, lr=3e-3, seed=0)
    return m.state_dict()


@pytest.fixture
def trained_lenet(digits, _lenet_state):
    """A fresh copy of a float LeNet-5 (16x16 digits) trained for 12 epochs."""
    m = build_model("lenet5", digits.input_shape, 10)
    m.load_state_dict(copy.deepcopy(_lenet_state))
    return m.eval()
