"""Legality of legalisation and the compiled detailed-placement passes, checked by an independent
site painter (not `check_legal`): every cell on a row and a site, inside the core, no two cells
on one site, none on a tap cell or fixed cell, every island (fence) cell wholly inside one of its
island's rectangles and no other cell overlapping an island. The painter itself is shown to
catch each kind of violation, so the checks can fail."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from flow.engines import eplace as ep
from flow.engines import place as pl
from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("bench_place", REPO / "benchmarks/bench_place.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def violations(prob: pl.PlaceProblem, lx: np.ndarray, ly: np.ndarray) -> dict[str, int]:
    """Count legality violations by painting every cell onto the site grid."""
    x0, y0, x1, y1 = prob.core
    sw, rh = prob.site_width, prob.row_height
    nrows, ncols = round((y1 - y0) / rh), round((x1 - x0) / sw)
    out = {"off_grid": 0, "outside": 0, "overlap": 0, "blocked": 0, "fence": 0, "intruder": 0}
    paint = np.zeros((nrows, ncols), dtype=np.int64)

    def sites_of(rect):  # sites (row, col) a rectangle overlaps
        a, b, c, d = rect
        return (slice(max(math.floor((b - y0) / rh + 1e-9), 0), min(math.ceil((d - y0) / rh - 1e-9), nrows)),
                slice(max(math.floor((a - x0) / sw + 1e-9), 0), min(math.ceil((c - x0) / sw - 1e-9), ncols)))

    blocked = np.zeros_like(paint, dtype=bool)
    for b in prob.blockages:
        blocked[sites_of(b)] = True
    fenced = np.full(paint.shape, -1, dtype=np.int64)
    for r, rects in enumerate(prob.region_rects):
        for rect in rects:
            fenced[sites_of(rect)] = r
    for i in range(prob.n):
        s, r = (lx[i] - x0) / sw, (ly[i] - y0) / rh
        if abs(s - round(s)) > 1e-6 or abs(r - round(r)) > 1e-6:
            out["off_grid"] += 1
            continue
        s, r = round(s), round(r)
        ws, hr = math.ceil(prob.w[i] / sw - 1e-9), math.ceil(prob.h[i] / rh - 1e-9)
        if s < 0 or r < 0 or s + ws > ncols or r + hr > nrows:
            out["outside"] += 1
            continue
        area = (slice(r, r + hr), slice(s, s + ws))
        paint[area] += 1
        out["blocked"] += int(blocked[area].any())
        reg = int(prob.region[i])
        if reg >= 0:
            inside = any(rx0 - 1e-12 <= lx[i] and lx[i] + prob.w[i] <= rx1 + 1e-12 and ry0 - 1e-12 <= ly[i]
                         and ly[i] + prob.h[i] <= ry1 + 1e-12 for rx0, ry0, rx1, ry1 in prob.region_rects[reg])
            out["fence"] += int(not inside)
        else:
            out["intruder"] += int((fenced[area] >= 0).any())
    out["overlap"] = int(np.sum(np.maximum(paint - 1, 0)))
    return out


CLEAN = {"off_grid": 0, "outside": 0, "overlap": 0, "blocked": 0, "fence": 0, "intruder": 0}


@pytest.fixture(scope="module")
def island_problem():
    """2,500 lattice cells; an island of two rectangles (an L) holding a fifth of the cells, tap
    cells every 40 sites in a checkerboard, and a fixed 30 x 6-row block (a pre-placed cell)."""
    prob = bench.synthetic(2500)
    x0, y0, x1, y1 = prob.core
    sw, rh = prob.site_width, prob.row_height
    nrows, ncols = round((y1 - y0) / rh), round((x1 - x0) / sw)
    row = lambda k: y0 + k * rh  # noqa: E731
    site = lambda k: x0 + k * sw  # noqa: E731
    prob.region_rects = [[(site(5), row(4), site(ncols // 2), row(nrows // 3)),
                          (site(5), row(nrows // 3), site(ncols // 4), row(nrows // 2))]]
    prob.region = np.where(np.arange(prob.n) % 5 == 0, 0, -1)
    taps = [(site(c), row(r), site(c + 1), row(r + 1)) for r in range(nrows)
            for c in range(3 + 20 * (r % 2), ncols - 1, 40)]
    block = (site(ncols - 45), row(nrows - 10), site(ncols - 15), row(nrows - 4))
    prob.blockages = taps + [block]
    cx, cy, _ = ep.eplace(prob, density=0.7)
    return prob, cx, cy


def test_legalise_and_detailed_place_keep_every_rule(island_problem):
    prob, cx, cy = island_problem
    lx, ly = pl.legalize(prob, cx, cy)
    assert violations(prob, lx, ly) == CLEAN
    h0 = pl.hpwl(prob, lx + prob.w / 2, ly + prob.h / 2)
    mx, my, moves = pl.detailed_move(prob, lx, ly, passes=2)
    assert violations(prob, mx, my) == CLEAN
    h1 = pl.hpwl(prob, mx + prob.w / 2, my + prob.h / 2)
    sx, sy, swaps = pl.detailed_swap(prob, mx, my, passes=2)
    assert violations(prob, sx, sy) == CLEAN
    h2 = pl.hpwl(prob, sx + prob.w / 2, sy + prob.h / 2)
    assert pl.check_legal(prob, sx, sy) == {"overlaps": 0, "off_site": 0, "outside_core": 0, "fence": 0}
    # both passes did work, each lowered the HPWL, and island cells moved too (inside the island)
    assert moves > 100 and swaps > 10
    assert h1 < h0 and h2 < h1
    island = prob.region == 0
    assert np.any((mx != lx)[island]) and np.any((mx != lx)[~island])


def test_painter_and_check_legal_see_each_violation(island_problem):
    prob, cx, cy = island_problem
    lx, ly = pl.legalize(prob, cx, cy)
    x0, y0 = prob.core[:2]
    free = np.flatnonzero(prob.region < 0)
    island = np.flatnonzero(prob.region == 0)

    def broken(i, x, y):
        bx, by = lx.copy(), ly.copy()
        bx[i], by[i] = x, y
        return violations(prob, bx, by), pl.check_legal(prob, bx, by)

    i = int(free[0])
    v, c = broken(i, lx[i] + prob.site_width / 2, ly[i])
    assert v["off_grid"] == 1 and c["off_site"] == 1
    j = int(free[1])
    v, c = broken(i, lx[j], ly[j])
    assert v["overlap"] >= 1 and c["overlaps"] >= 1
    tap = prob.blockages[0]
    v, c = broken(i, tap[0], tap[1])
    assert v["blocked"] == 1 and c["overlaps"] >= 1
    v, c = broken(i, x0 - prob.site_width, ly[i])
    assert v["outside"] == 1 and c["outside_core"] == 1
    k = int(island[0])
    v, c = broken(k, prob.core[2] - 20 * prob.site_width, prob.core[3] - 2 * prob.row_height)
    assert v["fence"] == 1 and c["fence"] == 1
    rx0, ry0 = prob.region_rects[0][0][:2]
    v, c = broken(i, rx0 + 2 * prob.site_width, ry0 + prob.row_height)
    assert v["intruder"] == 1 and c["fence"] >= 1
    assert y0 <= ry0


def test_compiled_moves_on_a_hand_case_with_a_tap():
    """One 12-site row, a tap on site 6, cell 0 (2 sites) at site 0 tied to a pin at x = 11: the
    free run nearest its optimum (sites 10-11) is past the tap, so it lands at site 10; cell 1
    (site 4, tied to a pin at x = 0) then goes to site 0."""
    prob = pl.PlaceProblem(np.array([2.0, 1.0]), np.ones(2), np.array([0, 2, 4]), np.array([0, -1, 1, -2]),
                           np.array([11.0, 0.0]), np.array([0.5, 0.5]), (0.0, 0.0, 12.0, 1.0), 1.0, 1.0,
                           blockages=[(6.0, 0.0, 7.0, 1.0)])
    lx, ly = np.array([0.0, 4.0]), np.zeros(2)
    mx, my, moves = pl.detailed_move(prob, lx, ly)
    assert moves == 2 and mx.tolist() == [10.0, 0.0]
    assert violations(prob, mx, my) == CLEAN
    # swapping across the tap is never done, even when it would shorten the nets
    sx, _, swaps = pl.detailed_swap(prob, np.array([4.0, 7.0]), ly)
    assert swaps == 0 and sx.tolist() == [4.0, 7.0]
