"""Energy per inference on the mixed-precision MAC array (designs/mac_array), per layer.

Why a model and not a simulation: NSGA-II evaluates thousands of precision assignments; the
energy of one is a sum over layers of counted events times per-event energies, calibrated from
the array's gate-level trace (`calibrate_from_trace`: `vhflow convnet trace` power per layer at
8, 4 and 2 bits) or a sign-off power number (`calibrate`). For layer l at precision b (weights
and input activations at b bits, signed, as the PE computes them):

    cycles_l = the array's schedule (`array_cycles`: tiles of COLS filters × ROWS packed words,
               each ROWS + 1 + N + COLS + ROWS cycles, N = output pixels) — what the trace counts
    E_l = MACs_l · e_mac[b]                                     arithmetic
        + cycles_l · e_cycle[b]                                 clock, control and leakage per cycle
        + params_l · s/8 · e_weight                             weights read once from SRAM
        + (in_l + out_l) · b/8 · e_act                          activations read + written

in pJ for one inference, where s is the stored weight width: the target keeps one 8-bit copy
(`weight_storage = "int8"`: s = 8 at every precision — a lower precision does not read fewer
weight bits) or bit planes (`"bitplane"`: s = b, only where the accelerator supports it).
Per-event numbers live in `energy_models/*.toml` with their sources.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from torch import nn

from convnet_opt.memory import forward_once, weight_layers
from flow.errors import ConfigError, FormatError

ENERGY_MODELS = Path(__file__).resolve().parent / "energy_models"


@dataclass(frozen=True)
class EnergyModel:
    name: str
    rows: int
    cols: int
    clock_hz: float
    mac_pj: dict[int, float]
    weight_pj_per_byte: float
    act_pj_per_byte: float
    leak_pj_per_cycle: float
    source: str = ""
    cycle_pj: dict[int, float] | None = None   # per-precision energy per array cycle (calibrated)
    weight_layouts: tuple[str, ...] = ("int8",)  # weight storages the accelerator can read
    # array energy (pJ per inference) of each traced layer ("name@MACs") at each traced precision:
    # the layers of the traced network use these measured numbers, any other layer the fitted model
    layer_pj: dict[str, dict[int, float]] | None = None

    def e_cycle(self, bits: int) -> float:
        return self.cycle_pj[bits] if self.cycle_pj and bits in self.cycle_pj else self.leak_pj_per_cycle

    def check_storage(self, storage: str) -> None:
        if storage not in self.weight_layouts:
            raise ConfigError(f"{self.name}: the accelerator reads weights as {', '.join(self.weight_layouts)}, "
                              f"not {storage!r} (target weight_storage)")

    @classmethod
    def load(cls, name_or_path: str | Path = "mac_array") -> EnergyModel:
        """A model by name (`energy_models/NAME.toml`) or path; a broken file is a FormatError
        naming it (and the line, for TOML syntax)."""
        p = Path(name_or_path)
        if not p.exists():
            p = ENERGY_MODELS / f"{name_or_path}.toml"
        try:
            doc = tomllib.loads(p.read_text())
        except OSError as exc:
            raise ConfigError(f"energy model {name_or_path}: {exc.strerror} ({p})") from None
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            raise FormatError(p, int(m.group(1)) if m else None, str(exc)) from None
        try:
            return cls(doc["name"], int(doc["rows"]), int(doc["cols"]), float(doc["clock_hz"]),
                       {int(k): float(v) for k, v in doc["mac_pj"].items()},
                       float(doc["memory_pj_per_byte"]["weight"]), float(doc["memory_pj_per_byte"]["activation"]),
                       float(doc["leakage"]["pj_per_cycle"]), str(p),
                       {int(k): float(v) for k, v in doc["cycle_pj"].items()} if "cycle_pj" in doc else None,
                       tuple(str(x) for x in doc.get("weight_layouts", ["int8"])))
        except KeyError as exc:
            raise FormatError(p, None, f"missing key {exc}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise FormatError(p, None, f"bad value: {exc}") from None

    def macs_per_cycle(self, bits: int) -> int:
        return self.rows * self.cols * (8 // bits)

    def check_bits(self, bits: int) -> None:
        if bits not in self.mac_pj:
            raise ValueError(f"{self.name}: no MAC energy for {bits} bits (has {sorted(self.mac_pj)})")


@dataclass(frozen=True)
class LayerWork:
    """What one conv/linear layer does for one inference."""

    name: str
    macs: int
    params: int
    in_elems: int
    out_elems: int
    groups: int = 1
    co_g: int = 0      # output channels per group
    k_g: int = 0       # reduction length per group (Cin/groups · kh · kw, or in_features)
    pixels: int = 1    # output pixels (1 for a linear layer)


MAX_WORDS = 0xFFFF  # longest activation stream of one tile (mac_array n_words)


def array_cycles(w: LayerWork, bits: int, rows: int, cols: int) -> int:
    """Cycles of the layer on the array, tile by tile as `convnet_opt.trace` schedules it."""
    per = 8 // bits
    if not w.co_g:  # no geometry: the ideal sub-word-parallel count
        return math.ceil(w.macs / (rows * cols * per))
    tiles = w.groups * math.ceil(w.co_g / cols) * math.ceil(w.k_g / (rows * per))
    full, rest = divmod(w.pixels, MAX_WORDS)
    per_tile = full * (2 * rows + 1 + MAX_WORDS + cols) + ((2 * rows + 1 + rest + cols) if rest else 0)
    return tiles * per_tile


def layer_work(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerWork]:
    """MACs, weights and activation sizes per conv/linear layer, from one traced forward."""
    out: list[LayerWork] = []
    hooks = []

    def make(name: str):
        def hook(m: nn.Module, inp, o) -> None:
            if isinstance(m, nn.Conv2d):
                k_g = (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
                pixels = o[0].numel() // m.out_channels
                macs = o[0].numel() * k_g
                geo = (m.groups, m.out_channels // m.groups, k_g, pixels)
            else:
                macs = m.in_features * m.out_features
                geo = (1, m.out_features, m.in_features, 1)
            out.append(LayerWork(name, int(macs), int(m.weight.numel()), int(inp[0][0].numel()), int(o[0].numel()),
                                 *map(int, geo)))
        return hook

    for name, m in weight_layers(model):
        hooks.append(m.register_forward_hook(make(name)))
    forward_once(model, input_shape, hooks)
    return out


def layer_energy(em: EnergyModel, w: LayerWork, bits: int, storage: str = "int8") -> dict[str, float]:
    """Energy terms (pJ) and cycles of one layer at `bits` with weights stored as `storage`."""
    em.check_bits(bits)
    cycles = array_cycles(w, bits, em.rows, em.cols)
    stored = 8 if storage == "int8" else bits
    traced = (em.layer_pj or {}).get(f"{w.name}@{w.macs}", {}).get(bits)
    fitted = w.macs * em.mac_pj[bits] + cycles * em.e_cycle(bits)
    scale = traced / fitted if traced is not None and fitted > 0 else 1.0
    e = {"mac": w.macs * em.mac_pj[bits] * scale,
         "cycle": cycles * em.e_cycle(bits) * scale,
         "weight": w.params * stored / 8 * em.weight_pj_per_byte,
         "activation": (w.in_elems + w.out_elems) * bits / 8 * em.act_pj_per_byte}
    e["array"] = e["mac"] + e["cycle"]
    e["total"] = e["array"] + e["weight"] + e["activation"]
    e["cycles"] = cycles
    return e


def network_energy(em: EnergyModel, work: list[LayerWork], bits: dict[str, int] | list[int] | int,
                   storage: str = "int8", part: str = "total") -> float:
    """Energy (pJ) of one inference with per-layer precisions (`part="array"`: MAC array only)."""
    if isinstance(bits, int):
        bl = [bits] * len(work)
    elif isinstance(bits, dict):
        bl = [bits[w.name] for w in work]
    else:
        bl = list(bits)
    return sum(layer_energy(em, w, b, storage)[part] for w, b in zip(work, bl, strict=True))


def _trace_layers(doc: dict, base: Path | None) -> list[tuple[int, list[dict], list[dict], int]]:
    """(bits, layers, layer_energy, images) of every uniform-precision point of a trace.json."""
    out = []
    for p in doc.get("operating_points", []) or [doc]:
        if not isinstance(p.get("bits"), int):
            continue
        sub = _point_doc(doc, base, p)
        if "layer_energy" not in sub:
            raise ValueError("trace has no layer_energy (run `vhflow convnet trace` with --energy)")
        out.append((int(p["bits"]), sub["layers"], sub["layer_energy"], int(sub.get("images", 1))))
    return out


def _point_doc(doc: dict, base: Path | None, point: dict) -> dict:
    """The trace.json of one operating point (found beside the main one if the tree moved)."""
    t = point.get("trace")
    if not t:
        return doc
    path = Path(t)
    if not path.is_file() and base is not None:
        cand = base / path.parent.name / path.name
        path = cand if cand.is_file() else base / path.name
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FormatError(path, None, f"not a trace.json: {exc}") from None


def _load_trace(trace: str | Path | dict) -> tuple[dict, Path | None]:
    if isinstance(trace, dict):
        return trace, None
    p = Path(trace)
    try:
        return json.loads(p.read_text()), p.parent
    except (OSError, ValueError) as exc:
        raise FormatError(p, None, f"not a trace.json: {exc}") from None


def calibrate_from_trace(em: EnergyModel, trace: str | Path | dict, per_layer: bool = True) -> EnergyModel:
    """Array energies per precision from the gate-level trace of `vhflow convnet trace`: for each
    uniform-precision operating point, the per-layer energies (power from the layer's own
    toggles × its time) are fitted as MACs · e_mac[b] + cycles · e_cycle[b] (non-negative least
    squares over the layers) — the model for any layer — and, with `per_layer`, kept per layer
    and precision for the traced network's own layers (switching depends on the operands: a
    first layer fed mostly-zero pixels costs ~20-30 % less per cycle than the fit says, so the
    measured number is used where there is one). Rows, columns and clock come from the traced
    array. Memory energies are outside the array and stay as they are."""
    from scipy.optimize import nnls

    doc, base = _load_trace(trace)
    points = _trace_layers(doc, base)
    if not points:
        raise ValueError("trace has no uniform-precision operating point (trace with --bits 8 --bits 4 --bits 2)")
    mac, cyc = dict(em.mac_pj), dict(em.cycle_pj or {})
    table: dict[str, dict[int, float]] = {}
    for bits, layers, energy, images in points:
        e_by = {x["layer"]: x["energy_j"] * 1e12 / images for x in energy}
        for ly in layers:  # keyed by name and MACs: a layer of another network never matches
            table.setdefault(f"{ly['name']}@{ly['macs'] // images}", {})[bits] = e_by[ly["name"]]
        a = np.array([[ly["macs"] / images, ly["cycles"] / images] for ly in layers], dtype=float)
        y = np.array([e_by[ly["name"]] for ly in layers], dtype=float)
        if len(layers) >= 2:
            (mac[bits], cyc[bits]), _ = nnls(a, y)
        else:
            mac[bits], cyc[bits] = float(y.sum() / a[:, 0].sum()), 0.0
    shape = doc.get("mac_array", {})
    period = float(doc.get("clock_period_s") or 1.0 / em.clock_hz)
    return replace(em, rows=int(shape.get("rows", em.rows)), cols=int(shape.get("cols", em.cols)),
                   clock_hz=1.0 / period, mac_pj=mac, cycle_pj=cyc, layer_pj=table if per_layer else None,
                   source=f"{em.source} calibrated to the gate-level trace ({', '.join(str(b) for b, *_ in points)} bits)")


def trace_agreement(em: EnergyModel, trace: str | Path | dict) -> list[dict]:
    """Per traced operating point (uniform or per-layer bits): array energy per inference of the
    model (from the trace's own layer geometry) vs the gate-level trace."""
    doc, base = _load_trace(trace)
    out = []
    for p in doc.get("operating_points", []):
        sub = _point_doc(doc, base, p)
        if "layer_energy" not in sub:
            continue
        images = int(sub.get("images", 1))
        model = 0.0
        for ly in sub["layers"]:
            traced = (em.layer_pj or {}).get(f"{ly['name']}@{ly['macs'] // images}", {}).get(ly["bits"])
            model += traced if traced is not None else (ly["macs"] / images * em.mac_pj[ly["bits"]]
                                                        + ly["cycles"] / images * em.e_cycle(ly["bits"]))
        gate = sum(x["energy_j"] for x in sub["layer_energy"]) * 1e12 / images
        out.append({"label": p.get("label", ""), "model_pj": model, "trace_pj": gate, "rel_error": model / gate - 1})
    return out


def calibrate(em: EnergyModel, signoff: str | Path | dict, precision: int = 8) -> EnergyModel:
    """Per-MAC energies from a sign-off power number of the array running at full utilisation.

    `signoff` is a metrics JSON (path) or dict with `power__total` (W) and optionally
    `power__leakage__total` (W), a clock period (`clock_period_s` in s, or
    `synth__clock__period_ns` in ns; default: the model's clock) and `rows`/`cols`. Energy per
    cycle is P·T; its dynamic part, spread over the rows·cols·8/precision MACs of one cycle, is
    the per-MAC energy at `precision`; the other precisions keep the model's ratios. With a
    leakage number, leakage per cycle is P_leak·T. Memory energies are outside the array and
    stay as they are."""
    doc = json.loads(Path(signoff).read_text()) if not isinstance(signoff, dict) else dict(signoff)
    from flow.metrics import lookup  # a run's metrics.json names them finish__power__* (ORFS)

    doc.update({k: lookup(doc, k) for k in ("power__total", "power__leakage__total") if lookup(doc, k) is not None})
    if "power__total" not in doc:
        raise ValueError("sign-off data has no power__total")
    if "clock_period_s" in doc:
        period = float(doc["clock_period_s"])
    elif "synth__clock__period_ns" in doc:
        period = float(doc["synth__clock__period_ns"]) * 1e-9
    else:
        period = 1.0 / em.clock_hz
    rows, cols = int(doc.get("rows", em.rows)), int(doc.get("cols", em.cols))
    em.check_bits(precision)
    p_total = float(doc["power__total"])
    leak = float(doc["power__leakage__total"]) * period * 1e12 if "power__leakage__total" in doc \
        else em.leak_pj_per_cycle
    dyn_pj = p_total * period * 1e12 - leak
    if dyn_pj <= 0:
        raise ValueError(f"sign-off power {p_total} W leaves no dynamic energy per cycle")
    per_mac = dyn_pj / (rows * cols * (8 // precision))
    ratio = per_mac / em.mac_pj[precision]
    return replace(em, rows=rows, cols=cols, clock_hz=1.0 / period,
                   mac_pj={b: e * ratio for b, e in em.mac_pj.items()}, leak_pj_per_cycle=leak, cycle_pj=None,
                   source=f"{em.source} calibrated to {p_total * 1e3:.3f} mW @ {period * 1e9:.3g} ns")
