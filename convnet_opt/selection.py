"""Choosing a compressed point on validation so that its loss still holds on test.

Why a margin: "the smallest point within 1 pt of fp32 on validation" picks, among many points,
the one whose validation loss happens to sit just under the bar, so the same point usually loses
a little more on test (the winner's curse plus sampling noise). The rule here asks the *upper
confidence bound* of the loss to meet the bar: loss + k·SE, where SE is the standard error of
the paired per-image difference (reference correct − point correct) on the validation images.
Paired, because both networks see the same images: most images are right (or wrong) for both,
and only the discordant ones carry noise, so the SE is far smaller than that of two independent
accuracies.

Choosing k: if validation (n_val images) and test (n_test) are independent samples of the same
distribution, the test loss of a point whose validation bound sits exactly at the bar exceeds
the bar when the test-minus-validation error exceeds k·SE_val; that error has SD
SE_val·sqrt(1 + n_val/n_test). k = `k_for` gives a one-sided miss probability `alpha`: with
4,000 validation and 10,000 test images and alpha = 5 %, k = 1.645·sqrt(1.4) = 1.95, i.e. ~2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from convnet_opt.train import correct  # noqa: F401  (re-exported: the raw material of a paired comparison)


def paired_loss(ref: np.ndarray, point: np.ndarray) -> tuple[float, float]:
    """(accuracy loss of `point` against `ref`, standard error of that loss), both fractions,
    from per-image correctness on the same images."""
    ref, point = np.asarray(ref, dtype=float), np.asarray(point, dtype=float)
    if ref.shape != point.shape or ref.ndim != 1 or len(ref) < 2:
        raise ValueError("paired_loss needs two equally long 1-D correctness vectors (>= 2 images)")
    d = ref - point
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))


def k_for(alpha: float, n_val: int, n_test: int) -> float:
    """The margin (in validation SEs) whose one-sided test miss probability is `alpha` (module
    docstring): z_(1-alpha) · sqrt(1 + n_val / n_test)."""
    z = NormalDist().inv_cdf(1 - alpha)
    return z * math.sqrt(1 + n_val / n_test)


@dataclass
class Candidate:
    """A point to choose from: its label, what it costs (flash bytes, or minus an energy saving),
    its validation loss against the reference and the loss's standard error (fractions)."""

    label: str
    cost: float
    loss: float
    se: float

    def bound(self, k: float) -> float:
        return self.loss + k * self.se


def cheapest_within(cands: Sequence[Candidate], bar: float, k: float, strict: bool = False) -> Candidate | None:
    """The cheapest candidate whose loss bound (loss + k·SE) is within `bar` (<= bar, or < bar
    with `strict`); ties on cost go to the smaller loss. None when no candidate qualifies."""
    ok = [c for c in cands if (c.bound(k) < bar if strict else c.bound(k) <= bar)]
    return min(ok, key=lambda c: (c.cost, c.loss)) if ok else None
