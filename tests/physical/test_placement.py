"""Placement on real synthesised designs: legality, fences, quality against baselines, SPEF."""

from __future__ import annotations

import numpy as np
import pytest

from flow.engines.physical import build_problem, cell_sizes, io_positions
from flow.engines.place import check_legal, detailed_swap, global_place, hpwl, legalize
from flow.engines.sta import load_design
from flow.errors import ConfigError, FormatError
from flow.formats.lef import read_lef
from flow.synth import synthesize
from tests.conftest import DESIGNS

CASES = {
    "gcd": ([DESIGNS / "gcd/src/gcd.v"], {}, 3.0),
    "mac_array": ([DESIGNS / "mac_array/src/mac_pe.v", DESIGNS / "mac_array/src/mac_array.v"], {"ROWS": 2, "COLS": 2}, 4.0),
}


@pytest.fixture(scope="module", params=[(d, p) for d in CASES for p in ("nangate45", "sky130hd")],
                ids=lambda v: f"{v[0]}-{v[1]}")
def problem(request, tmp_path_factory):
    design, plat_name = request.param
    plat = request.getfixturevalue(plat_name)
    files, params, period = CASES[design]
    res = synthesize(files, design, plat, tmp_path_factory.mktemp("syn"), clock_period_ns=period, params=params)
    d = load_design([res.netlist], design)
    lef = read_lef([plat.tech_lef, *plat.cell_lefs])
    geo = cell_sizes(d, lef, res.netlist)
    sw, rh = plat.site.width, plat.site.height
    area = float(np.sum(geo.w * geo.h)) / 0.5
    side = np.sqrt(area)
    nrows, ncols = int(np.ceil(side / rh)), int(np.ceil(side / sw))
    core = (10 * sw, 2 * rh, 10 * sw + ncols * sw, 2 * rh + nrows * rh)
    die = (0.0, 0.0, core[2] + 10 * sw, core[3] + 2 * rh)
    px, py = io_positions(list(d.port_names), die, sw)
    return build_problem(geo, px, py, core, rh, sw), d


def random_legal(prob, seed=1):
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = prob.core
    return legalize(prob, rng.uniform(x0, x1, prob.n), rng.uniform(y0, y1, prob.n))


def row_by_row(prob):
    """Naive baseline: cells in netlist order filled into rows left to right."""
    x0, y0, x1, y1 = prob.core
    xs, ys = np.empty(prob.n), np.empty(prob.n)
    x, y = x0, y0
    for i in range(prob.n):
        if x + prob.w[i] > x1:
            x, y = x0, y + prob.row_height
        xs[i], ys[i] = x, y
        x += prob.w[i]
    return xs, ys


def test_legal_and_better_than_baselines(problem):
    prob, _ = problem
    cx, cy = global_place(prob, density=0.7)
    lx, ly = legalize(prob, cx, cy)
    assert check_legal(prob, lx, ly) == {"overlaps": 0, "off_site": 0, "outside_core": 0, "fence": 0}
    legal = hpwl(prob, lx + prob.w / 2, ly + prob.h / 2)
    lx, ly, swaps = detailed_swap(prob, lx, ly)
    assert check_legal(prob, lx, ly) == {"overlaps": 0, "off_site": 0, "outside_core": 0, "fence": 0}
    ours = hpwl(prob, lx + prob.w / 2, ly + prob.h / 2)
    assert swaps > 0 and ours < legal  # the detailed pass lowers HPWL
    rx, ry = random_legal(prob)
    assert check_legal(prob, rx, ry)["overlaps"] == 0
    rand = hpwl(prob, rx + prob.w / 2, ry + prob.h / 2)
    nx, ny = row_by_row(prob)
    naive = hpwl(prob, nx + prob.w / 2, ny + prob.h / 2)
    assert ours <= 0.7 * rand, (ours, rand)
    assert ours < naive, (ours, naive)


def test_fences_respected(problem):
    prob, _ = problem
    x0, y0, x1, y1 = prob.core
    rh = prob.row_height
    mid_row = y0 + round((y1 - y0) / rh / 2) * rh
    fence = (x0, y0, x0 + (x1 - x0) * 0.6, mid_row)  # lower-left part, row aligned
    region = np.full(prob.n, -1)
    region[: prob.n // 5] = 0  # 20 % of the cells must stay in the fence
    prob.region = region
    prob.region_rects = [[fence]]
    try:
        cx, cy = global_place(prob, density=0.7)
        lx, ly = legalize(prob, cx, cy)
        legal = check_legal(prob, lx, ly)
    finally:
        prob.region = np.full(prob.n, -1)
        prob.region_rects = []
    assert legal == {"overlaps": 0, "off_site": 0, "outside_core": 0, "fence": 0}
    inside = (lx[: prob.n // 5] >= fence[0]) & (lx[: prob.n // 5] + prob.w[: prob.n // 5] <= fence[2] + 1e-12)
    assert inside.all()


def test_hpwl_hand_case():
    from flow.engines.place import PlaceProblem

    prob = PlaceProblem(np.array([1.0, 1.0]), np.array([1.0, 1.0]), np.array([0, 3, 5]),
                        np.array([0, 1, -1, 0, 1]), np.array([10.0]), np.array([0.0]), (0, 0, 20, 20), 1.0, 1.0)
    # net 0: cells 0,1 and pin (10, 0); net 1: cells 0,1
    cx, cy = np.array([2.0, 5.0]), np.array([3.0, 7.0])
    assert hpwl(prob, cx, cy) == pytest.approx((10 - 2) + (7 - 0) + (5 - 2) + (7 - 3))


def test_lef_errors(tmp_path, nangate45):
    bad = tmp_path / "t.lef"
    bad.write_text("MACRO INV\n  SIZE 1.0 BY\nEND INV\n")
    with pytest.raises(FormatError, match=r"t.lef:2: MACRO INV: SIZE"):
        read_lef(bad)
    bad.write_text("MACRO INV\n  SIZE 1.0 BY 2.0 ;\n")
    with pytest.raises(FormatError, match=r"t.lef:1: MACRO INV is never closed"):
        read_lef(bad)
    lef = read_lef([nangate45.tech_lef, *nangate45.cell_lefs])
    assert lef.macros["INV_X1"].width == pytest.approx(0.38e-6)  # NangateOpenCellLibrary: SIZE 0.38 BY 1.4
    assert lef.macros["INV_X1"].pins["ZN"] == "OUTPUT"


def test_floorplan_errors(tmp_path, nangate45):
    from flow.runner import run_flow

    cfg = tmp_path / "config.toml"
    cfg.write_text(f'DESIGN_NAME = "gcd"\nPLATFORM = "nangate45"\nVERILOG_FILES = ["{DESIGNS}/gcd/src/gcd.v"]\n'
                   f'SDC_FILE = "{DESIGNS}/gcd/src/constraint.sdc"\n')
    with pytest.raises(ConfigError, match=r"CORE_UTILIZATION = 120.0: must be <= 100 %"):
        run_flow(cfg, overrides=["CORE_UTILIZATION=120"], runs_dir=tmp_path / "runs", tag="u", to_stage="floorplan")
    with pytest.raises(ConfigError, match="CORE_AREA .* is not inside DIE_AREA"):
        run_flow(cfg, overrides=["DIE_AREA=[0, 0, 50, 50]", "CORE_AREA=[5, 5, 60, 45]"],
                 runs_dir=tmp_path / "runs", tag="d", to_stage="floorplan")


def test_tap_cells_are_obstacles(problem, request):
    """Platform well taps (checkerboard at the tap distance) cut the rows: nothing overlaps a tap,
    with and without a fence, and detailed placement never swaps a cell across one."""
    from flow.stages.floorplan import tap_positions

    prob, _ = problem
    plat_name = request.node.callspec.id.split("-")[1]
    plat = request.getfixturevalue(plat_name)
    lef = read_lef([plat.tech_lef, *plat.cell_lefs])
    taps = tap_positions(plat, lef, prob.core, prob.row_height, prob.site_width)
    step = round(plat.cells["tapcell_distance_um"] * 1e-6 / prob.site_width)
    first_row = sorted(t[1] for t in taps if abs(t[2] - prob.core[1]) < 1e-12)
    assert np.allclose(np.diff(first_row), step * prob.site_width)  # one every tap distance
    second = sorted(t[1] for t in taps if abs(t[2] - prob.core[1] - prob.row_height) < 1e-12)
    if (prob.core[2] - prob.core[0]) / prob.site_width > step // 2 + 1:  # wide enough for a shifted tap
        assert second[0] - prob.core[0] == pytest.approx(step // 2 * prob.site_width)  # checkerboard
    prob.blockages = [(x, y, x + w, y + h) for _, x, y, w, h in taps]
    x0, y0, x1, y1 = prob.core
    try:
        for fenced in (False, True):
            if fenced:
                prob.region = np.where(np.arange(prob.n) < prob.n // 5, 0, -1)
                mid = y0 + round((y1 - y0) / prob.row_height / 2) * prob.row_height
                prob.region_rects = [[(x0, y0, x0 + (x1 - x0) * 0.6, mid)]]
            cx, cy = global_place(prob, density=0.7)
            lx, ly = legalize(prob, cx, cy)
            lx, ly, _ = detailed_swap(prob, lx, ly)
            assert check_legal(prob, lx, ly) == {"overlaps": 0, "off_site": 0, "outside_core": 0, "fence": 0}
            # the check itself sees a cell moved onto a tap
            bx0, by0, _, _ = prob.blockages[len(taps) // 2]
            k = int(np.argmin(np.abs(ly - by0) + np.abs(lx - bx0)))
            moved = lx.copy()
            moved[k] = bx0
            ly2 = ly.copy()
            ly2[k] = by0
            assert check_legal(prob, moved, ly2)["overlaps"] >= 1
    finally:
        prob.blockages = []
        prob.region = np.full(prob.n, -1)
        prob.region_rects = []


def test_floorplan_from_def(tmp_path, nangate45):
    """FLOORPLAN_DEF (ORFS): die from DIEAREA, core from the extent of the ROWs; it excludes
    DIE_AREA/CORE_AREA, and a DEF without rows is a one-line error naming the file."""
    import json

    from flow.runner import run_flow

    site = nangate45.site.name  # 0.19 x 1.4 um
    rows = "".join(f"ROW ROW_{r} {site} 6080 {5600 + 2800 * r} {'FS' if r % 2 else 'N'} DO 280 BY 1 STEP 380 0 ;\n"
                   for r in range(19))
    fp = tmp_path / "fp.def"
    fp.write_text("VERSION 5.8 ;\nDESIGN gcd ;\nUNITS DISTANCE MICRONS 2000 ;\n"
                  f"DIEAREA ( 0 0 ) ( 120000 70000 ) ;\n{rows}END DESIGN\n")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'DESIGN_NAME = "gcd"\nPLATFORM = "nangate45"\nVERILOG_FILES = ["{DESIGNS}/gcd/src/gcd.v"]\n'
                   f'SDC_FILE = "{DESIGNS}/gcd/src/constraint.sdc"\nFLOORPLAN_DEF = "fp.def"\n')
    run = run_flow(cfg, runs_dir=tmp_path / "runs", tag="fp", to_stage="floorplan")
    m = json.loads((run.run_dir / "metrics.json").read_text())
    # core: x 3.04 .. 3.04 + 280 * 0.19 = 56.24 um, y 2.8 .. 2.8 + 19 * 1.4 = 29.4 um
    assert m["floorplan__design__core__area"] == pytest.approx(53.2 * 26.6, rel=1e-9)
    assert m["floorplan__design__die__area"] == pytest.approx(60.0 * 35.0, rel=1e-9)
    assert m["floorplan__design__rows"] == 19
    with pytest.raises(ConfigError, match="FLOORPLAN_DEF and DIE_AREA/CORE_AREA"):
        run_flow(cfg, overrides=["DIE_AREA=[0, 0, 50, 50]", "CORE_AREA=[5, 5, 45, 45]"],
                 runs_dir=tmp_path / "runs", tag="both", to_stage="floorplan")
    fp.write_text("VERSION 5.8 ;\nDESIGN gcd ;\nUNITS DISTANCE MICRONS 2000 ;\nDIEAREA ( 0 0 ) ( 120000 70000 ) ;\n"
                  "END DESIGN\n")
    with pytest.raises(FormatError, match=r"fp.def: FLOORPLAN_DEF has no ROW"):
        run_flow(cfg, runs_dir=tmp_path / "runs", tag="norow", to_stage="floorplan")


def test_assign_io_hand_case():
    """Two cells at x = 2 and x = 18 in a 20 x 20 core, port 0 tied to the right cell and port 1
    to the left one but sitting the other way round: each moves to the slot next to its cell; a
    port with no cell stays nearest where it was."""
    from flow.engines.place import PlaceProblem, assign_io

    # nets: {cell 0, port 1}, {cell 1, port 0}, {port 2 alone with port 1}
    prob = PlaceProblem(np.ones(2), np.ones(2), np.array([0, 2, 4, 6]), np.array([0, -2, 1, -1, -3, -2]),
                        np.array([0.0, 20.0, 10.0]), np.array([10.0, 10.0, 20.0]), (0, 0, 20, 20), 1.0, 1.0)
    slots_x, slots_y = np.array([0.0, 20.0, 10.0, 10.0]), np.array([10.0, 10.0, 0.0, 20.0])
    px, py = assign_io(prob, np.array([2.0, 18.0]), np.array([10.0, 10.0]), 3, slots_x, slots_y)
    assert (px.tolist(), py.tolist()) == ([20.0, 0.0, 10.0], [10.0, 10.0, 20.0])


def test_io_placement_and_lb_addon_in_the_flow(tmp_path, nangate45):
    """gcd: moving the pins next to their logic and placing again shortens the wire (measured:
    about 8 %); PLACE_DENSITY_LB_ADDON follows ORFS's formula and refuses a density above 1."""
    import json

    from flow.runner import run_flow

    cfg = tmp_path / "config.toml"
    cfg.write_text(f'DESIGN_NAME = "gcd"\nPLATFORM = "nangate45"\nVERILOG_FILES = ["{DESIGNS}/gcd/src/gcd.v"]\n'
                   f'SDC_FILE = "{DESIGNS}/gcd/src/constraint.sdc"\nCORE_UTILIZATION = 55\n')
    hp = {}
    for pins in (False, True):
        run = run_flow(cfg, overrides=[f"PLACE_PINS={str(pins).lower()}"], runs_dir=tmp_path / "runs",
                       tag=f"p{pins}", to_stage="place")
        hp[pins] = json.loads((run.run_dir / "metrics.json").read_text())["detailedplace__hpwl"]
        fp = np.load(next(run.run_dir.glob("*_place/placement.npz")))
        if pins:
            die = fp["die"]
            on_edge = np.isclose(fp["pin_x"], die[0]) | np.isclose(fp["pin_x"], die[2]) \
                | np.isclose(fp["pin_y"], die[1]) | np.isclose(fp["pin_y"], die[3])
            assert on_edge.all() and len({(a, b) for a, b in zip(fp["pin_x"], fp["pin_y"], strict=True)}) == fp["pin_x"].size
    assert hp[True] < 0.96 * hp[False]
    with pytest.raises(ConfigError, match=r"place density 1.00\d exceeds 1"):
        run_flow(cfg, overrides=["PLACE_DENSITY_LB_ADDON=0.99"], runs_dir=tmp_path / "runs", tag="lb",
                 to_stage="place")


def test_legaliser_retries_widest_first_when_gaps_fragment():
    """One 10-site row: three 1-site cells wanting sites 1, 4 and 7, then a 4-site cell wanting
    the right end. In x order the small cells leave gaps of 1-2 sites and the wide cell fits
    nowhere; the widest-first pass places everything without overlap."""
    from flow.engines.place import PlaceProblem, StageError, _tetris, check_legal, legalize

    w = np.array([1.0, 1.0, 1.0, 4.0])
    prob = PlaceProblem(w, np.ones(4), np.array([0]), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0),
                        (0.0, 0.0, 10.0, 1.0), 1.0, 1.0)
    cx, cy = np.array([1.5, 4.5, 7.5, 9.0]), np.full(4, 0.5)
    with pytest.raises(StageError, match="cannot legalise cell 3"):
        _tetris(prob, cx, cy, np.argsort(cx - w / 2, kind="stable"))
    lx, ly = legalize(prob, cx, cy)
    assert all(v == 0 for v in check_legal(prob, lx, ly).values())
    assert lx[3] == 6.0 and sorted(lx[:3].tolist()) == [1.0, 4.0, 5.0]


def test_detailed_move_to_the_optimal_region_by_hand():
    """One 20-site row, fence 0 over sites 0-9. Cell 0 (outside fences) sits at site 10 tied to a
    pin at x = 19.5: it moves to the free end of the row (site 19, its net 9 -> 0). Cell 1, in the
    fence at site 0, is tied to the same pin but may not leave sites 0-9: it goes to site 9."""
    from flow.engines.place import PlaceProblem, check_legal, detailed_move, hpwl

    prob = PlaceProblem(np.ones(2), np.ones(2), np.array([0, 2, 4]), np.array([0, -1, 1, -1]),
                        np.array([19.5]), np.array([0.5]), (0.0, 0.0, 20.0, 1.0), 1.0, 1.0,
                        region=np.array([-1, 0]), region_rects=[[(0.0, 0.0, 10.0, 1.0)]])
    lx, ly = np.array([10.0, 0.0]), np.zeros(2)
    before = hpwl(prob, lx + 0.5, ly + 0.5)
    mx, my, moves = detailed_move(prob, lx, ly)
    assert moves == 2 and mx.tolist() == [19.0, 9.0] and my.tolist() == [0.0, 0.0]
    assert all(v == 0 for v in check_legal(prob, mx, my).values())
    assert hpwl(prob, mx + 0.5, my + 0.5) == pytest.approx(before - 9.0 - 9.0)
