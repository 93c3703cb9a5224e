"""FINE-VH report figures: each island's supply over the workload, and the island map coloured
by the share of time each island spends on VDDH (the hopping the policy decided)."""

from __future__ import annotations

from typing import Any

import numpy as np

from flow.report.figures import plt, to_img
from plugins.finevh import policy as pol


def rail_timeline(results: dict[str, pol.PolicyResult], trace: list[pol.Interval], islands: list[str],
                  vddl: float, vddh: float) -> str:
    """Top: per-island supply under FINE-VH (VDDH while hopping up, else VDDL) per interval;
    bottom: chip-wide voltage of realistic and ideal DVFS, and each interval's demand."""
    t_edges = np.concatenate([[0.0], np.cumsum([iv.duration for iv in trace])]) * 1e3
    fv = results["finevh"].timeline
    grid = np.array([[step["rails"].get(name, vddl) for step in fv] for name in islands])
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(7.5, 1.6 + 0.28 * len(islands) + 2.0), sharex=True,
                                 gridspec_kw={"height_ratios": [max(1.0, 0.28 * len(islands)), 1.6]})
    mesh = ax.pcolormesh(t_edges, np.arange(len(islands) + 1), grid, cmap="coolwarm", vmin=vddl, vmax=vddh,
                         shading="flat")
    ax.set_yticks(np.arange(len(islands)) + 0.5, islands)
    ax.set_title("FINE-VH: island supply over the workload")
    fig.colorbar(mesh, ax=ax, label="V", pad=0.01)
    for name, style in (("dvfs", "-"), ("ideal_dvfs", "--")):
        v = [max(step["rails"].values()) for step in results[name].timeline]
        bx.step(t_edges[:-1], v, where="post", ls=style, label=f"chip {name.replace('_', ' ')} (V)")
    load = [iv.cycles / iv.duration for iv in trace]
    bx2 = bx.twinx()
    bx2.step(t_edges[:-1], np.array(load) / max(max(load), 1e-30), where="post", color="gray", lw=0.8,
             label="demand (relative)")
    bx2.set_ylim(0, 1.1)
    bx2.set_ylabel("demand")
    bx.set_ylabel("V")
    bx.set_xlabel("time (ms)")
    bx.legend(loc="lower left", fontsize=7)
    return to_img(fig, "FINE-VH rails over time")


def island_map(fences: dict[str, list[float]], die: Any, results: dict[str, pol.PolicyResult],
               trace: list[pol.Interval], vddh: float) -> str:
    """Island fences on the die, coloured by the share of the workload (by time) in intervals where
    the island hops to VDDH."""
    total = sum(iv.duration for iv in trace)
    frac = {name: sum(iv.duration for iv, step in zip(trace, results["finevh"].timeline, strict=True)
                      if step["rails"].get(name, 0.0) >= vddh - 1e-9) / total for name in fences}
    die = np.asarray(die, dtype=float) * 1e6
    fig, ax = plt.subplots(figsize=(5.5, 5.5 * (die[3] - die[1]) / max(die[2] - die[0], 1e-9)))
    cmap = plt.get_cmap("coolwarm")
    for name, r in fences.items():
        x0, y0, x1, y1 = (v * 1e6 for v in r)
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fc=cmap(frac[name]), ec="black", lw=0.6))
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{name}\n{100 * frac[name]:.0f} %", ha="center", va="center", fontsize=7)
    ax.add_patch(plt.Rectangle(die[:2], die[2] - die[0], die[3] - die[1], fill=False, lw=1.2, ec="black"))
    ax.set_xlim(die[0], die[2])
    ax.set_ylim(die[1], die[3])
    ax.set_aspect("equal")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title("Islands: share of the workload spent hopping to VDDH (FINE-VH)")
    return to_img(fig, "FINE-VH island map")
