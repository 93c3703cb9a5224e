"""Report figures: matplotlib (Agg) rendered to inline base64 PNG, so the report is one file."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

# Plain tick labels everywhere (no "+4.839e1" offset, no "1e-5" multiplier).
matplotlib.rcParams.update({"axes.formatter.useoffset": False, "axes.formatter.limits": (-5, 6)})


def _plain_tick(v: float, _pos: int | None = None) -> str:
    from flow.metrics import format_number

    return format_number(float(v))


def colorbar(fig: Any, mappable: Any, ax: Any, label: str) -> Any:
    """A colour bar with plain numbers (no offset or scientific notation) and its unit."""
    cb = fig.colorbar(mappable, ax=ax, label=label)
    cb.ax.yaxis.set_major_formatter(FuncFormatter(_plain_tick))
    return cb


def to_img(fig: Any, alt: str) -> str:
    """An `<img>` tag with the figure as a base64 PNG; closes the figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img class="fig" alt="{alt}" src="data:image/png;base64,{data}">'


#: above this many cells a layout is drawn as an image: at 100k cells each is about a pixel, and
#: 100k polygons cost matplotlib ~10 s per figure for the same picture
RASTER_CELLS = 20000


def draw_cells(ax: Any, boxes_um: np.ndarray, colors: np.ndarray, extent: tuple[float, float, float, float],
               edges: bool = False, pixels: int = 1100) -> None:
    """Cells (x, y, w, h in µm, RGBA colours) on `ax`: polygons up to RASTER_CELLS, else an image of
    `pixels` columns over `extent` where each pixel has the area-weighted colour of the cells on it
    and their coverage as opacity (a cell's area shared evenly over the pixels its box touches)."""
    b = np.asarray(boxes_um, dtype=float).reshape(-1, 4)
    rgba = np.asarray(colors, dtype=float).reshape(-1, 4)
    if len(b) <= RASTER_CELLS:
        verts = np.stack([np.c_[b[:, 0], b[:, 1]], np.c_[b[:, 0] + b[:, 2], b[:, 1]],
                          np.c_[b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], np.c_[b[:, 0], b[:, 1] + b[:, 3]]], axis=1)
        ax.add_collection(PolyCollection(verts, facecolors=rgba if len(rgba) else "none",
                                         edgecolors=(1, 1, 1, 0.6) if edges else "none", linewidths=0.2 if edges else 0))
        return
    x0, y0, x1, y1 = extent
    scale = pixels / max(x1 - x0, 1e-12)  # pixels per µm
    ncol, nrow = pixels, max(1, int(np.ceil((y1 - y0) * scale)))
    ix0 = np.clip(np.floor((b[:, 0] - x0) * scale).astype(np.int64), 0, ncol - 1)
    iy0 = np.clip(np.floor((b[:, 1] - y0) * scale).astype(np.int64), 0, nrow - 1)
    ix1 = np.clip(np.ceil((b[:, 0] + b[:, 2] - x0) * scale).astype(np.int64) - 1, ix0, ncol - 1)
    iy1 = np.clip(np.ceil((b[:, 1] + b[:, 3] - y0) * scale).astype(np.int64) - 1, iy0, nrow - 1)
    nx, ny = ix1 - ix0 + 1, iy1 - iy0 + 1
    count = nx * ny
    cell = np.repeat(np.arange(len(b)), count)  # one entry per (cell, pixel) pair
    k = np.arange(cell.size) - np.repeat(np.cumsum(count) - count, count)
    px, py = ix0[cell] + k % nx[cell], iy0[cell] + k // nx[cell]
    share = (b[:, 2] * b[:, 3] * scale * scale / count)[cell]  # pixel areas covered, per pair
    flat = py * ncol + px
    cover = np.bincount(flat, weights=share, minlength=nrow * ncol)
    img = np.zeros((nrow * ncol, 4))
    for ch in range(3):
        img[:, ch] = np.bincount(flat, weights=share * rgba[cell, ch], minlength=nrow * ncol)
    img[:, :3] /= np.maximum(cover, 1e-12)[:, None]
    img[:, 3] = np.clip(cover, 0.0, 1.0)
    ax.imshow(img.reshape(nrow, ncol, 4), origin="lower", extent=(x0, x0 + ncol / scale, y0, y0 + nrow / scale),
              interpolation="nearest", aspect="auto")


def stage_timeline(stages: list[dict[str, Any]]) -> str:
    done = [s for s in stages if s.get("seconds") is not None]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * max(2, len(done)) + 0.8))
    start = 0.0
    colors = {"done": "#2e7d32", "failed": "#c62828", "running": "#f9a825"}
    for i, s in enumerate(done):
        ax.barh(i, s["seconds"], left=start, color=colors.get(s["status"], "#607d8b"))
        ax.text(start + s["seconds"], i, f" {s['seconds']:.1f} s", va="center", fontsize=8)
        start += s["seconds"]
    ax.set_yticks(range(len(done)), [s["id"] for s in done])
    ax.invert_yaxis()
    ax.set_xlabel("wall time (s)")
    ax.set_title("Stage timeline")
    ax.set_xlim(0, start * 1.18 + 1e-9)
    return to_img(fig, "stage timeline")


def placement(npz: Any, islands: dict[str, str] | None = None) -> str:
    """Cells as rectangles, coloured by region (or FINE-VH island), core and die outlined."""
    x, y, w, h = (np.asarray(npz[k], dtype=float) * 1e6 for k in ("x", "y", "w", "h"))
    region = np.asarray(npz["region"]) if "region" in npz else np.full(x.size, -1)
    if islands:
        names = [str(n) for n in npz["inst_names"]]
        keys = sorted(set(islands.values()))
        region = np.array([keys.index(islands[n]) if n in islands else -1 for n in names])
    die = np.asarray(npz["die"], dtype=float) * 1e6
    core = np.asarray(npz["core"], dtype=float) * 1e6
    fig, ax = plt.subplots(figsize=(6.5, 6.5 * (die[3] - die[1]) / max(die[2] - die[0], 1e-9)))
    cmap = plt.get_cmap("tab20")
    colors = np.where(region[:, None] >= 0, cmap(np.mod(region, 20)), np.array([[0.55, 0.6, 0.7, 1.0]]))
    draw_cells(ax, np.column_stack([x, y, w, h]), colors, tuple(die))
    ax.add_patch(Rectangle(die[:2], die[2] - die[0], die[3] - die[1], fill=False, lw=1.2, ec="black"))
    ax.add_patch(Rectangle(core[:2], core[2] - core[0], core[3] - core[1], fill=False, lw=0.8, ec="gray", ls="--"))
    ax.set_xlim(die[0], die[2])
    ax.set_ylim(die[1], die[3])
    ax.set_aspect("equal")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title(f"Placement: {x.size} cells" + (" (coloured by island)" if islands else ""))
    return to_img(fig, "placement")


def density_map(npz: Any, values: np.ndarray, title: str, unit: str, bins: int = 48) -> str:
    """A per-instance quantity (e.g. power) binned over the die as a density heat map."""
    x = (np.asarray(npz["x"], float) + np.asarray(npz["w"], float) / 2) * 1e6
    y = (np.asarray(npz["y"], float) + np.asarray(npz["h"], float) / 2) * 1e6
    die = np.asarray(npz["die"], dtype=float) * 1e6
    hist, xe, ye = np.histogram2d(x, y, bins=bins, range=[[die[0], die[2]], [die[1], die[3]]], weights=values)
    area = (xe[1] - xe[0]) * (ye[1] - ye[0])
    fig, ax = plt.subplots(figsize=(6.5, 5.2))
    im = ax.imshow(hist.T / area, origin="lower", extent=(die[0], die[2], die[1], die[3]), cmap="inferno",
                   aspect="equal")
    colorbar(fig, im, ax, unit)
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title(title)
    return to_img(fig, title)


def slack_histogram(slacks_ns: dict[str, np.ndarray], kind: str) -> str:
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for corner, s in slacks_ns.items():
        s = s[np.isfinite(s)]
        if s.size:
            ax.hist(s, bins=40, alpha=0.55, label=corner)
    ax.axvline(0.0, color="red", lw=1)
    ax.set_xlabel(f"{kind} slack (ns)")
    ax.set_ylabel("endpoints")
    ax.set_title(f"{kind.capitalize()} slack per endpoint")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return to_img(fig, f"{kind} slack histogram")


def power_breakdown(groups: dict[str, dict[str, float]]) -> str:
    names = [g for g, v in groups.items() if v.get("total", 0.0) > 0]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    left = np.zeros(len(names))
    for comp, color in (("internal", "#1565c0"), ("switching", "#ef6c00"), ("leakage", "#6a1b9a")):
        vals = np.array([groups[g].get(comp, 0.0) * 1e3 for g in names])
        ax.barh(names, vals, left=left, color=color, label=comp)
        left += vals
    ax.set_xlabel("power (mW)")
    ax.set_title("Power by group (OpenSTA grouping)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars, never over them
    return to_img(fig, "power breakdown")
