"""Island rectangles and level-shifter slots: the geometry that lets 1,000+ islands fit a core at
the design's own utilisation (issue #16, item 2). Sky130-like numbers: 0.46 µm sites, 2.72 µm
rows, a 6.44 × 5.44 µm double-height shifter, one-site taps checkerboarded every 14 µm."""

from __future__ import annotations

import numpy as np
import pytest

from flow.errors import ConfigError
from plugins.finevh import islands
from plugins.finevh import level_shifters as lsh

UM = 1e-6
SITE, ROW = 0.46 * UM, 2.72 * UM
LS_W, LS_H, TAP_W = 6.44 * UM, 5.44 * UM, 0.46 * UM


def _taps(core, step=30):
    """Tap cells as the floorplan stage puts them (`tap_positions`, like `tapcell -distance 14`):
    one site wide every 30 sites in each row, odd rows shifted by 15."""
    x0, y0, x1, y1 = core
    ncols = int(round((x1 - x0) / SITE))
    return [(x0 + s * SITE, y0 + r * ROW, x0 + (s + 1) * SITE, y0 + (r + 1) * ROW)
            for r in range(int(round((y1 - y0) / ROW))) for s in range(15 * (r % 2), ncols, step)]


def _overlap(a, b):
    return a[0] < b[2] - 1e-12 and b[0] < a[2] - 1e-12 and a[1] < b[3] - 1e-12 and b[1] < a[3] - 1e-12


def test_apportion_keeps_the_minimum_and_the_total():
    got = islands.apportion(np.array([1.0, 1.0, 100.0, 0.0]), 40, 5)
    assert got.sum() == 40 and got.min() >= 5
    assert got.tolist() == [5, 5, 25, 5]
    assert islands.apportion(np.array([1.0, 3.0]), 8, 1).tolist() == [2, 6]
    with pytest.raises(ValueError):
        islands.apportion(np.ones(5), 9, 2)


def test_1024_islands_tile_a_core_with_room_for_shifters():
    core = (0.0, 0.0, 600 * SITE * 2, 206 * ROW)  # ~552 × 560 µm, the mac_array 4×4 core at 45 %
    rng = np.random.default_rng(1)
    need = rng.uniform(50, 600, 1024)
    min_w = 2 * LS_W + TAP_W
    rects = islands.island_rects(need, list(range(1024)), core, ROW, SITE, min_w, 2)
    assert len(rects) == 1024
    area = np.array([(r[2] - r[0]) * (r[3] - r[1]) for r in rects])
    assert area.sum() == pytest.approx((core[2] - core[0]) * (core[3] - core[1]), rel=1e-9)  # a tiling
    # no two overlap (sweep within each band: rects sharing a y range)
    by_band: dict[float, list] = {}
    for r in rects:
        by_band.setdefault(r[1], []).append(r)
    for band in by_band.values():
        band.sort()
        assert all(a[2] <= b[0] + 1e-12 for a, b in zip(band, band[1:], strict=False))
    for r in rects:
        assert r[2] - r[0] >= min_w - 1e-12
        assert round((r[1] - core[1]) / ROW) % 2 == 0 and round((r[3] - r[1]) / ROW) >= 2
        assert abs((r[0] - core[0]) / SITE - round((r[0] - core[0]) / SITE)) < 1e-6
    # area follows need: no island fuller than the typical one by more than whole-site rounding and
    # next-fit slack (those held at the minimum width are emptier)
    fill = need / area
    assert fill.max() / np.median(fill) < 1.1
    # every island, however its tap columns fall, has room for a shifter
    taps = _taps(core)
    for r in rects:
        assert lsh.edge_slots(r, True, LS_W, LS_H, ROW, SITE, core[1], taps, 1)


def test_too_many_islands_is_a_clear_error():
    core = (0.0, 0.0, 100 * UM, 20 * ROW)
    with pytest.raises(ConfigError, match="FINEVH_ISLANDS"):
        islands.island_rects(np.ones(200), list(range(200)), core, ROW, SITE, 2 * LS_W + TAP_W, 2)


def test_edge_slots_pack_beside_taps_nearest_the_facing_edge():
    # 11.04 µm wide (24 sites), a tap mid-row in every row: the old column scan found no slot
    rect = (0.0, 0.0, 24 * SITE, 4 * ROW)
    taps = [(10 * SITE, r * ROW, 11 * SITE, (r + 1) * ROW) for r in range(4)]
    with pytest.raises(ConfigError, match="room for 0 of 1"):
        lsh.edge_slots(rect, True, LS_W, LS_H, ROW, SITE, 0.0, taps, 1)
    wide = (0.0, 0.0, 40 * SITE, 4 * ROW)  # 14-site shifters from the left: 11-24 and 25-38 (the tap at 10)
    taps = [(10 * SITE, r * ROW, 11 * SITE, (r + 1) * ROW) for r in range(4)]
    left = lsh.edge_slots(wide, True, LS_W, LS_H, ROW, SITE, 0.0, taps, 4)
    assert [(round(x / SITE), round(y / ROW)) for x, y in left] == [(11, 0), (11, 2), (25, 0), (25, 2)]
    right = lsh.edge_slots(wide, False, LS_W, LS_H, ROW, SITE, 0.0, taps, 2)
    assert [(round(x / SITE), round(y / ROW)) for x, y in right] == [(26, 0), (26, 2)]
    slots = lsh.edge_slots(wide, False, LS_W, LS_H, ROW, SITE, 0.0, taps, 4)
    boxes = [(x, y, x + LS_W, y + LS_H) for x, y in slots]
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert not any(_overlap(a, t) for a in boxes for t in taps)
    with pytest.raises(ConfigError, match="room for 4 of 5"):
        lsh.edge_slots(wide, True, LS_W, LS_H, ROW, SITE, 0.0, taps, 5)


def test_free_runs_and_packing_see_what_area_hides():
    # 58 sites × 8 rows, taps every 30 sites (odd rows +15): twelve 16-site flip-flops fit; five
    # shifters at the left edge take 140 sites (30 % of the rows) but five of those flop places
    rect = (0.0, 0.0, 58 * SITE, 8 * ROW)
    taps = np.array(_taps(rect))
    runs = islands.free_runs(rect, taps, ROW, SITE)
    assert len(taps) == 16 and sum(runs) == 8 * 58 - 16
    assert sorted(runs, reverse=True)[:9] == [29] * 8 + [27]
    assert islands.packs([16] * 12, runs) and not islands.packs([16] * 13, runs)
    slots = lsh.edge_slots(rect, True, LS_W, LS_H, ROW, SITE, 0.0, [tuple(t) for t in taps], 5)
    assert [(round(x / SITE), round(y / ROW)) for x, y in slots] == [(1, 0), (1, 2), (1, 4), (1, 6), (16, 0)]
    boxes = np.vstack([taps, [(x, y, x + LS_W, y + LS_H) for x, y in slots]])
    runs_ls = islands.free_runs(rect, boxes, ROW, SITE)
    assert sum(runs_ls) == sum(runs) - 5 * 2 * 14
    assert islands.packs([16] * 7 + [3] * 20, runs_ls) and not islands.packs([16] * 8, runs_ls)


def test_connected_islands_land_next_to_each_other():
    # 64 islands talking as an 8 × 8 lattice, labels shuffled: the 2-D spectral layout puts
    # lattice neighbours about one island apart (a random layout: ~5)
    import scipy.sparse as sp

    rng = np.random.default_rng(3)
    label = rng.permutation(64)
    edges = [(label[r * 8 + c], label[r * 8 + c + 1]) for r in range(8) for c in range(7)]
    edges += [(label[r * 8 + c], label[(r + 1) * 8 + c]) for r in range(7) for c in range(8)]
    a, b = np.array(edges).T
    adj = sp.csr_matrix((np.ones(2 * len(a)), (np.r_[a, b], np.r_[b, a])), shape=(64, 64))
    core = (0.0, 0.0, 320 * SITE, 56 * ROW)  # ~150 µm square, 8 bands of 7 rows
    rects = islands.island_rects(np.ones(64), islands.spectral_embedding(64, adj), core, ROW, SITE)
    centre = np.array([((r[0] + r[2]) / 2, (r[1] + r[3]) / 2) for r in rects])
    pitch = (core[2] - core[0]) / 8
    dist = np.hypot(*(centre[a] - centre[b]).T) / pitch
    assert np.mean(dist) < 1.2, np.mean(dist)
    rand = np.hypot(*(centre[rng.permutation(64)[a]] - centre[b]).T) / pitch
    assert np.mean(rand) > 2 * np.mean(dist)


def test_geometric_partition_cuts_compact_equal_area_islands():
    """Recursive bisection of a placed 64 × 32 grid of unit cells into 32 islands: each holds
    1/32 of the area (64 cells) in a patch no larger than 8 × 8 pitches, the islands' boxes are
    disjoint, and a cell's island is the one whose patch it lies in."""
    from plugins.finevh.partition import geometric_partition

    gx, gy = np.meshgrid(np.arange(64.0), np.arange(32.0))
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    isl = geometric_partition(xy, np.ones(len(xy)), 32)
    assert np.bincount(isl).tolist() == [64] * 32
    boxes = []
    for j in range(32):
        p = xy[isl == j]
        assert np.ptp(p[:, 0]) <= 7 and np.ptp(p[:, 1]) <= 7
        boxes.append((p[:, 0].min(), p[:, 1].min(), p[:, 0].max() + 1, p[:, 1].max() + 1))
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_slicing_rects_tile_the_core_over_their_islands():
    """Fences from an unfenced placement (5,000 cells spread over the core, cut into 60 islands
    by `geometric_partition`): they tile the core (no overlap, every site covered), sit on rows
    and sites, are at least the minimum width and a row pair high, hold each island's area share
    within 25 %, and each island's fence contains the centre of its cells — the fence lies over
    the cells it holds."""
    from plugins.finevh.partition import geometric_partition

    rng = np.random.default_rng(3)
    core = (0.0, 0.0, 920 * SITE, 96 * ROW)
    k = 60
    cells = np.column_stack([rng.uniform(core[0], core[2], 5000), rng.uniform(core[1], core[3], 5000)])
    cell_area = rng.uniform(0.5, 1.5, 5000)
    isl = geometric_partition(cells, cell_area, k)
    area = np.bincount(isl, weights=cell_area)
    xy = np.column_stack([np.bincount(isl, weights=cells[:, d]) / np.bincount(isl) for d in (0, 1)])
    rects = islands.slicing_rects(area, xy, core, ROW, SITE, 2 * LS_W + TAP_W, 2)
    assert len(rects) == k
    sizes = np.array([(r[2] - r[0]) * (r[3] - r[1]) for r in rects])
    assert sizes.sum() == pytest.approx((core[2] - core[0]) * (core[3] - core[1]), rel=1e-9)
    assert not any(_overlap(a, b) for i, a in enumerate(rects) for b in rects[i + 1:])
    for r in rects:
        assert r[2] - r[0] >= 2 * LS_W + TAP_W - 1e-12 and r[3] - r[1] >= 2 * ROW - 1e-12
        for v in (r[0] / SITE, r[2] / SITE, r[1] / ROW, r[3] / ROW):
            assert abs(v - round(v)) < 1e-6
        assert round(r[1] / ROW) % 2 == 0  # row pairs from the core's bottom
    share = sizes / sizes.sum() / (area / area.sum())
    assert share.min() > 0.75 and share.max() < 1.25
    inside = [r[0] <= x <= r[2] and r[1] <= y <= r[3] for r, (x, y) in zip(rects, xy, strict=True)]
    assert all(inside)
    with pytest.raises(ConfigError, match="do not fit"):
        islands.slicing_rects(np.ones(2000), rng.uniform(0, 1e-4, (2000, 2)), core, ROW, SITE, 2 * LS_W + TAP_W, 2)


def test_scattered_low_rail_cells_join_the_fast_rail():
    """Placement-driven islands: 64 VDDL-able cells packed in one corner of a 64 × 32 placement
    keep their VDDL island; 40 more VDDL-able cells scattered across the placement would make
    islands spanning the core (fenced together, their wires would cross it on the slow rail), so
    they go to the VDDH bin — all but a few that lie near the corner; no VDDH-class cell
    ever goes down."""
    from plugins.finevh.partition import slack_binned_islands

    gx, gy = np.meshgrid(np.arange(64.0), np.arange(32.0))
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    cls = np.ones(len(xy), dtype=np.int64)
    corner = np.flatnonzero((xy[:, 0] < 8) & (xy[:, 1] < 8))
    cls[corner] = 0
    rng = np.random.default_rng(1)
    scattered = rng.choice(np.setdiff1d(np.arange(len(xy)), corner), 40, replace=False)
    cls[scattered] = 0
    island, rail = slack_binned_islands(None, cls, 32, np.ones(len(xy)), min_size=8, xy=xy)
    low = rail[island] == 0
    assert set(corner.tolist()) <= set(np.flatnonzero(low).tolist())
    assert int(low[scattered].sum()) <= 8
    for j in np.flatnonzero(rail == 0):  # no low island spans more than 3 compact patches of its area
        m = island == j
        assert np.ptp(xy[m, 0]) + np.ptp(xy[m, 1]) <= 3 * 2 * np.sqrt(63 * 31 * m.sum() / len(xy))
    assert not low[cls == 1].any()
