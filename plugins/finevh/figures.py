"""FINE-VH report figures: each island's supply over the workload, and the island map coloured
by the share of time each island spends on VDDH (the hopping the policy decided)."""

from __future__ import annotations

from typing import Any

import numpy as np

from flow.report.figures import plt, to_img
from plugins.finevh import policy as pol


def rail_timeline(results: dict[str, pol.PolicyResult], trace: list[pol.Interval], islands: list[str],
                  vddl: float, vddh: float) -> str:
    """Top: share of each interval FINE-VH spends in its fast mode (hopping islands on their high
    rail), with the demand; bottom: chip-wide voltage of realistic and ideal DVFS."""
    t_edges = np.concatenate([[0.0], np.cumsum([iv.duration for iv in trace])]) * 1e3
    share = [step.get("fast_share", 0.0) for step in results["finevh"].timeline]
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(7.5, 4.2), sharex=True)
    ax.stairs(share, t_edges, fill=True, alpha=0.6, label="FINE-VH fast-mode share")
    load = [iv.cycles / iv.duration for iv in trace]
    peak = max(max(load), 1e-30)
    ax.stairs(np.array(load) / peak, t_edges, color="gray", lw=0.8, label="demand (relative)")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"FINE-VH over the workload ({len(islands)} islands)")
    ax.legend(loc="lower left", fontsize=7)
    for name, style in (("dvfs", "-"), ("ideal_dvfs", "--")):
        v = [step.get("v", vddh) for step in results[name].timeline]
        bx.stairs(v, t_edges, ls=style, label=f"chip {name.replace('_', ' ')} (V)")
    bx.set_ylim(vddl - 0.05, vddh + 0.05)
    bx.set_ylabel("V")
    bx.set_xlabel("time (ms)")
    bx.legend(loc="lower left", fontsize=7)
    return to_img(fig, "FINE-VH rails over time")


def island_map(fences: dict[str, list[float]], die: Any, results: dict[str, pol.PolicyResult],
               trace: list[pol.Interval], vddh: float, hopping: dict[str, bool] | None = None) -> str:
    """Island fences on the die, coloured by the share of the workload (by time) each island
    spends on its high rail (0 for islands that stay on VDDL)."""
    total = sum(iv.duration for iv in trace)
    fast = sum(iv.duration * step.get("fast_share", 0.0)
               for iv, step in zip(trace, results["finevh"].timeline, strict=True)) / total
    frac = {name: (fast if (hopping or {}).get(name, True) else 0.0) for name in fences}
    die = np.asarray(die, dtype=float) * 1e6
    fig, ax = plt.subplots(figsize=(5.5, 5.5 * (die[3] - die[1]) / max(die[2] - die[0], 1e-9)))
    cmap = plt.get_cmap("coolwarm")
    for name, r in fences.items():
        x0, y0, x1, y1 = (v * 1e6 for v in r)
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fc=cmap(frac[name]), ec="black", lw=0.6))
        if len(fences) <= 64:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{name}\n{100 * frac[name]:.0f} %", ha="center", va="center",
                    fontsize=7)
    ax.add_patch(plt.Rectangle(die[:2], die[2] - die[0], die[3] - die[1], fill=False, lw=1.2, ec="black"))
    ax.set_xlim(die[0], die[2])
    ax.set_ylim(die[1], die[3])
    ax.set_aspect("equal")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title("Islands: share of the workload on the high rail (FINE-VH)")
    return to_img(fig, "FINE-VH island map")
