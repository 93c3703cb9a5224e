"""Floorplans, power traces and configs a stranger would bring to HotSpot 6, and a comparison of
`vhflow thermal` with `hotspot` on each.

Why: parity measured only on floorplans we wrote ourselves proves little (issue 15 is checked on
held-back floorplans). `random_case(seed)` draws one case — EV6-like cores, many-block slicing
floorplans, long thin strips, dead space, an origin away from (0, 0), chips of 1..20 mm,
power densities of 0.5..300 W/cm², grids of 16..256 (not square; powers of two, as HotSpot 6 requires), package
parameters, ambient, init temperature, sampling interval, grid_map_mode, block or grid model,
`-init_file`, leakage off — and writes it the way other tools write HotSpot files (comments,
blank lines, tabs, CRLF, scientific notation). `compare(case, dir, hotspot)` runs both tools as
a user does (`hotspot` as a process, our CLI entry point in-process) and returns the largest
differences. Used by tests/thermal/test_hotspot_stranger.py (small grids) and
`benchmarks/bench_thermal.py --parity N` (everything)."""

from __future__ import annotations

import contextlib
import io
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flow.formats.hotspot import Floorplan, Unit, read_flp, read_temperature_file

MM = 1e-3


def _slicing(rng: np.random.Generator, n: int, w: float, h: float, lo: float, hi: float) -> list[tuple]:
    """A random slicing of w × h into n rectangles (split the largest at lo..hi of its long side)."""
    rects = [(0.0, 0.0, w, h)]
    while len(rects) < n:
        k = max(range(len(rects)), key=lambda i: (rects[i][2] - rects[i][0]) * (rects[i][3] - rects[i][1]))
        x0, y0, x1, y1 = rects.pop(k)
        f = rng.uniform(lo, hi)
        if (x1 - x0) >= (y1 - y0):
            xm = x0 + f * (x1 - x0)
            rects += [(x0, y0, xm, y1), (xm, y0, x1, y1)]
        else:
            ym = y0 + f * (y1 - y0)
            rects += [(x0, y0, x1, ym), (x0, ym, x1, y1)]
    return rects


def _ev6(w: float, h: float) -> list[tuple]:
    """HotSpot's ev6 example in shape: L2 below and on both sides of a core of 15 units, scaled."""
    sx, sy = w / 12, h / 12
    rects = [(0, 0, 12, 4), (0, 4, 3, 12), (9, 4, 12, 12)]
    col_w = [2.2, 1.6, 2.2]
    row_h = [2.0, 1.0, 1.6, 1.6, 1.8]
    y = 4.0
    for rh in row_h:
        x = 3.0
        for cw in col_w:
            rects.append((x, y, x + cw, y + rh))
            x += cw
        y += rh
    return [(x0 * sx, y0 * sy, x1 * sx, y1 * sy) for x0, y0, x1, y1 in rects]


def _strips(rng: np.random.Generator, w: float, h: float) -> list[tuple]:
    """Long thin blocks: k strips along one side (a register file, a bus), the rest sliced."""
    k = int(rng.integers(3, 12))
    frac = rng.uniform(0.15, 0.5)
    rects = []
    if rng.random() < 0.5:  # horizontal strips at the bottom
        sh = frac * h / k
        rects += [(0.0, i * sh, w, (i + 1) * sh) for i in range(k)]
        rest = _slicing(rng, int(rng.integers(2, 8)), w, h - k * sh, 0.3, 0.7)
        rects += [(x0, y0 + k * sh, x1, y1 + k * sh) for x0, y0, x1, y1 in rest]
    else:  # vertical strips at the left
        sw = frac * w / k
        rects += [(i * sw, 0.0, (i + 1) * sw, h) for i in range(k)]
        rest = _slicing(rng, int(rng.integers(2, 8)), w - k * sw, h, 0.3, 0.7)
        rects += [(x0 + k * sw, y0, x1 + k * sw, y1) for x0, y0, x1, y1 in rest]
    return rects


def _scattered(rng: np.random.Generator, w: float, h: float) -> list[tuple]:
    """Units dropped on a jittered k × l lattice, none touching: a non-slicing floorplan, mostly
    dead space, unit edges anywhere on the grid (partly covered cells)."""
    k, l_ = int(rng.integers(2, 7)), int(rng.integers(2, 7))
    rects = []
    for i in range(k):
        for j in range(l_):
            if rng.random() < 0.2 and (i, j) not in ((0, 0), (k - 1, l_ - 1)):
                continue
            cw, ch = w / k, h / l_
            uw, uh = cw * rng.uniform(0.3, 0.9), ch * rng.uniform(0.3, 0.9)
            x0 = i * cw + (0.0 if i == 0 else rng.uniform(0.02, 0.98) * (cw - uw))
            y0 = j * ch + (0.0 if j == 0 else rng.uniform(0.02, 0.98) * (ch - uh))
            if i == k - 1:
                x0 = (i + 1) * cw - uw
            if j == l_ - 1:
                y0 = (j + 1) * ch - uh
            rects.append((x0, y0, x0 + uw, y0 + uh))
    return rects


KINDS = ("ev6", "slices", "many", "strips", "dead")  # random_case's default cycle (seed % 5)
MORE_KINDS = ("scattered",)  # by name only, so that the seeds of KINDS keep their cases


def random_floorplan(rng: np.random.Generator, kind: str, w: float, h: float) -> Floorplan:
    if kind == "ev6":
        rects = _ev6(w, h)
    elif kind == "slices":
        rects = _slicing(rng, int(rng.integers(2, 16)), w, h, 0.3, 0.7)
    elif kind == "many":  # many blocks, some long and thin
        rects = _slicing(rng, int(rng.integers(30, 70)), w, h, 0.12, 0.88)
    elif kind == "strips":
        rects = _strips(rng, w, h)
    elif kind == "scattered":
        rects = _scattered(rng, w, h)
    else:  # dead space: a slicing with some interior and edge blocks left out
        rects = _slicing(rng, int(rng.integers(6, 20)), w, h, 0.25, 0.75)
        keep = rng.random(len(rects)) > 0.3
        keep[int(np.argmax([r[2] * r[3] for r in rects]))] = True  # keeps the far corner: the bbox stays
        rects = [r for r, k in zip(rects, keep, strict=True) if k]
    ox, oy = (rng.uniform(0, 5 * MM), rng.uniform(0, 5 * MM)) if rng.random() < 0.3 else (0.0, 0.0)
    names = [f"blk{i}" if kind != "ev6" else n for i, n in enumerate(
        ["L2", "L2_left", "L2_right", "Icache", "Bpred", "Dcache", "ITB", "DTB", "LdStQ", "IntMap", "IntQ",
         "IntReg", "FPMap", "FPQ", "IntExec", "FPMul", "FPReg", "FPAdd"][: len(rects)] if kind == "ev6"
        else range(len(rects)))]
    return Floorplan([Unit(n, x1 - x0, y1 - y0, x0 + ox, y0 + oy) for n, (x0, y0, x1, y1) in
                      zip(names, rects, strict=True)])


@dataclass
class Case:
    seed: int
    kind: str
    fp: Floorplan
    names: list[str]  # ptrace column order
    powers: np.ndarray  # (rows, units) W, in `names` order
    config: dict[str, object]  # HotSpot -name value pairs for the .config
    cmdline: dict[str, str] = field(default_factory=dict)  # given on the command line instead
    transient: bool = False
    init: str = "none"  # none | steady (a previous run's -steady_file) | file (our own init file)
    style: dict[str, bool] = field(default_factory=dict)

    @property
    def grid(self) -> tuple[int, int] | None:
        if self.config.get("model_type", self.cmdline.get("model_type")) != "grid":
            return None
        return int(self.config["grid_rows"]), int(self.config["grid_cols"])

    def describe(self) -> str:
        fp = self.fp
        x0, y0, x1, y1 = fp.bbox()
        g = self.grid
        model = f"grid {g[0]}x{g[1]} {self.config['grid_map_mode']}" if g else "block"
        run = (f"transient {len(self.powers)} x {self.config['sampling_intvl']:g} s, init {self.init}"
               if self.transient else "steady")
        density = self.powers.mean(axis=0).sum() / ((x1 - x0) * (y1 - y0) * 1e4)
        return (f"seed {self.seed}: {self.kind}, {len(fp.units)} units, {(x1 - x0) * 1e3:.2f}x{(y1 - y0) * 1e3:.2f} mm, "
                f"{model}, {density:.3g} W/cm2, {run}")


def random_case(seed: int, max_grid: int = 256, transient_max_grid: int = 64, kind: str | None = None) -> Case:
    """One random case; grids up to `max_grid` (steady) and `transient_max_grid` (transient, where
    HotSpot's explicit RK4 is slow); `kind` (KINDS, MORE_KINDS) else KINDS[seed % 5]."""
    rng = np.random.default_rng(seed)
    kind = kind or KINDS[seed % len(KINDS)]
    side = float(np.exp(rng.uniform(np.log(1 * MM), np.log(20 * MM))))
    aspect = float(np.exp(rng.uniform(np.log(0.4), np.log(2.5))))
    w, h = side * np.sqrt(aspect), side / np.sqrt(aspect)
    if max(w, h) > 20 * MM:
        w, h = w * 20 * MM / max(w, h), h * 20 * MM / max(w, h)
    fp = random_floorplan(rng, kind, w, h)
    area = np.array([u.width * u.height for u in fp.units])
    density = float(np.exp(rng.uniform(np.log(0.5), np.log(300.0)))) * 1e4  # W/m² averaged over the die
    factor = rng.uniform(0.2, 5.0, len(area)) * (rng.random(len(area)) > 0.1)  # a few unpowered blocks
    if not factor.any():
        factor[0] = 1.0
    base = area * factor / np.sum(area * factor) * density * np.sum(area)
    transient = bool(rng.random() < 0.5)
    rows_n = int(rng.integers(3, 8)) if transient else int(rng.integers(1, 4))
    rows = base * rng.uniform(0.3, 1.7, (rows_n, len(area)))
    if rng.random() < 0.2:  # a trace with a power-gated row
        rows[rng.integers(rows_n)] *= rng.random(len(area)) > 0.5
    order = rng.permutation(len(area))
    names = [fp.units[i].name for i in order]
    powers = rows[:, order]

    chip = max(w, h)
    cfg: dict[str, object] = {}

    def maybe(name: str, value: float, p: float = 0.5) -> None:
        if rng.random() < p:
            cfg[name] = float(f"{value:.4g}")

    maybe("t_chip", np.exp(rng.uniform(np.log(50e-6), np.log(1e-3))))
    maybe("k_chip", rng.uniform(50, 400))
    maybe("p_chip", rng.uniform(1.0e6, 3.0e6))
    maybe("t_interface", np.exp(rng.uniform(np.log(5e-6), np.log(1e-4))), 0.3)
    maybe("k_interface", rng.uniform(1, 20), 0.3)
    maybe("p_interface", rng.uniform(1e6, 5e6), 0.3)
    s_sp = max(chip * rng.uniform(1.05, 3.0), rng.uniform(0.01, 0.04)) if rng.random() < 0.5 else 0.03
    s_sp = max(s_sp, chip * 1.02)
    if s_sp != 0.03:
        cfg["s_spreader"] = float(f"{s_sp:.4g}")
    s_sk = float(s_sp * rng.uniform(1.1, 3.0)) if rng.random() < 0.5 else max(0.06, s_sp * 1.1)
    if abs(s_sk - 0.06) > 1e-12:
        cfg["s_sink"] = float(f"{s_sk:.4g}")
    maybe("t_spreader", rng.uniform(0.3e-3, 3e-3), 0.3)
    maybe("k_spreader", rng.uniform(100, 500), 0.3)
    maybe("p_spreader", rng.uniform(2e6, 4e6), 0.2)
    maybe("t_sink", rng.uniform(2e-3, 15e-3), 0.3)
    maybe("k_sink", rng.uniform(100, 500), 0.3)
    maybe("p_sink", rng.uniform(2e6, 4e6), 0.2)
    maybe("r_convec", np.exp(rng.uniform(np.log(0.05), np.log(3.0))), 0.7)
    maybe("c_convec", rng.uniform(10, 300), 0.4)
    amb = float(rng.uniform(280, 340))
    maybe("ambient", amb, 0.6)
    maybe("init_temp", float(cfg.get("ambient", 318.15)) + rng.uniform(-5, 30), 0.6)
    intvl = float(np.exp(rng.uniform(np.log(1e-5), np.log(0.05))))
    cfg["sampling_intvl"] = float(f"{intvl:.4g}")
    model = "grid" if rng.random() < 0.7 else "block"
    cfg["model_type"] = model
    cfg["leakage_used"] = 0
    if model == "grid":
        top = transient_max_grid if transient else max_grid
        sizes = [s for s in (16, 32, 64, 128, 256) if s <= top]  # HotSpot 6: powers of two only
        r = int(rng.choice(sizes))
        c = r if rng.random() < 0.6 else int(rng.choice(sizes))
        cfg["grid_rows"], cfg["grid_cols"] = r, c
        cfg["grid_map_mode"] = str(rng.choice(["avg", "center", "min", "max"]))
    elif rng.random() < 0.2:
        cfg["block_omit_lateral"] = 1
    cmdline: dict[str, str] = {}
    for name in ("model_type", "sampling_intvl", "grid_rows"):  # some options given on the command line
        if name in cfg and rng.random() < 0.25:
            cmdline[name] = str(cfg[name])
    init = str(rng.choice(["none", "steady", "file"])) if transient else "none"
    style = {k: bool(rng.random() < 0.4) for k in ("crlf", "comments", "tabs", "sci", "blank")}
    return Case(seed, kind, fp, names, powers, cfg, cmdline, transient, init, style)


def _fmt(v: float, sci: bool) -> str:
    return f"{v:.6e}" if sci else f"{v:.9g}"


def write_case(case: Case, tmp: Path) -> dict[str, Path]:
    """The case's .flp, .ptrace and .config, written in its `style` (as other tools write them)."""
    st = case.style
    sep = "\t" if st.get("tabs") else " "
    nl = "\r\n" if st.get("crlf") else "\n"
    lines = []
    if st.get("comments"):
        lines += ["# floorplan written by some other tool", "# name width height left bottom"]
    for i, u in enumerate(case.fp.units):
        vals = [u.width, u.height, u.left, u.bottom]
        line = u.name + sep + sep.join(_fmt(v, st.get("sci", False)) for v in vals)
        if st.get("comments") and i % 4 == 1:
            line += "\t# a trailing comment"
        lines.append(line)
        if st.get("blank") and i % 5 == 2:
            lines.append("")
    paths = {"flp": tmp / "case.flp", "ptrace": tmp / "case.ptrace", "config": tmp / "case.config"}
    paths["flp"].write_bytes((nl.join(lines) + nl).encode())
    plines = [sep.join(case.names)] + [sep.join(_fmt(v, st.get("sci", False)) for v in row) for row in case.powers]
    if st.get("blank"):
        plines.insert(1, "")
    paths["ptrace"].write_bytes((nl.join(plines) + nl).encode())
    clines = ["# HotSpot configuration"] if st.get("comments") else []
    for k, v in case.config.items():
        if k in case.cmdline:
            continue
        val = _fmt(v, st.get("sci", False)) if isinstance(v, float) else str(v)
        clines.append(f"{sep}-{k}{sep}{sep}{val}" + ("  # set by the generator" if st.get("comments") else ""))
    paths["config"].write_bytes((nl.join(clines) + nl).encode())
    return paths


def _write_init(case: Case, path: Path, names: list[str]) -> None:
    """An init file of our own: smooth-ish temperatures per block and layer, inodes near ambient."""
    rng = np.random.default_rng(case.seed + 1000)
    amb = float(case.config.get("ambient", 318.15))
    lines = []
    for li, pre in enumerate(("", "iface_", "hsp_", "hsink_")):
        for n in names:
            lines.append(f"{pre}{n}\t{amb + rng.uniform(2, 30) / (1 + li):.2f}")
    lines += [f"inode_{i}\t{amb + rng.uniform(0, 3):.2f}" for i in range(12)]
    path.write_text("\n".join(lines) + "\n")


@dataclass
class Outcome:
    steady_k: float  # largest |ours − hotspot| over die blocks (steady)
    steady_all_k: float  # over every layer and inode
    step_k: np.ndarray | None  # per transient step, over die blocks
    hotspot_rise_k: float  # HotSpot's hottest block above ambient (the comparison means something)
    hs_cpu_s: float
    ours_cpu_s: float


def _run(cmd: list[str], timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return proc, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def read_ttrace(path: Path) -> tuple[list[str], np.ndarray]:
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    return lines[0], np.array(lines[1:], dtype=float)


def compare(case: Case, tmp: Path, hotspot: str, timeout: float = 600) -> Outcome:
    """Run `hotspot` and `vhflow thermal` (in-process, through the CLI's own function) on the case."""
    import time

    from plugins.thermal_signoff.plugin import thermal

    tmp.mkdir(parents=True, exist_ok=True)
    p = write_case(case, tmp)
    names = read_flp(p["flp"]).names
    base = [hotspot, "-c", str(p["config"]), "-f", str(p["flp"]), "-p", str(p["ptrace"])]
    for k, v in case.cmdline.items():
        base += [f"-{k}", v]
    hs_cmd = [*base, "-steady_file", str(tmp / "hs.steady")]
    init: Path | None = None
    if case.init == "steady":
        proc, _ = _run([*base, "-steady_file", str(tmp / "first.steady")], timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"hotspot failed: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
        init = tmp / "first.steady"
    elif case.init == "file":
        init = tmp / "own.init"
        _write_init(case, init, names)
    if case.transient:
        hs_cmd += ["-o", str(tmp / "hs.ttrace")]
        if init is not None:
            hs_cmd += ["-init_file", str(init)]
    proc, hs_cpu = _run(hs_cmd, timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"hotspot failed: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    over = case.cmdline
    grid = f"{over.get('grid_rows', case.config.get('grid_rows'))}x{case.config.get('grid_cols')}" \
        if "grid_rows" in over else None
    t0 = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        thermal(p["flp"], p["ptrace"], p["config"], model=over.get("model_type"), grid=grid,
                dt=float(over["sampling_intvl"]) if "sampling_intvl" in over else None,
                init_file=init if case.transient else None,
                ttrace=tmp / "v.ttrace" if case.transient else None, steady_file=tmp / "v.steady")
    ours_cpu = time.process_time() - t0
    hl, hi = read_temperature_file(tmp / "hs.steady", names)
    vl, vi = read_temperature_file(tmp / "v.steady", names)
    steady = float(np.abs(vl[0] - hl[0]).max())
    steady_all = max(float(np.abs(vl - hl).max()), float(np.abs(vi - hi).max()))
    step = None
    if case.transient:
        hn, ht = read_ttrace(tmp / "hs.ttrace")
        vn, vt = read_ttrace(tmp / "v.ttrace")
        if hn != vn or ht.shape != vt.shape:
            raise AssertionError(f"trace layout differs: {hn[:3]}.. {ht.shape} vs {vn[:3]}.. {vt.shape}")
        step = np.abs(vt - ht).max(axis=1)
    amb = float(case.config.get("ambient", 318.15))
    return Outcome(steady, steady_all, step, float(hl[0].max() - amb), hs_cpu, ours_cpu)
