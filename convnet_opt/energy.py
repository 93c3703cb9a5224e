"""Energy per inference on the mixed-precision MAC array (designs/mac_array), per layer.

Why a model and not a simulation: NSGA-II evaluates thousands of precision assignments; the
energy of one is a sum over layers of counted events times per-event energies, which is what
the sign-off of the array can calibrate (`calibrate`). For layer l at precision b (weights and
input activations at b bits, as the array computes them):

    cycles_l = ceil(MACs_l / (rows · cols · 8/b))              sub-word parallel PEs
    E_l = MACs_l · e_mac[b]                                     arithmetic
        + params_l · b/8 · e_weight                             weights read once from SRAM
        + (in_l + out_l) · b/8 · e_act                          activations read + written
        + cycles_l · e_leak                                     static energy while it runs

all in pJ, for one inference. Per-event numbers live in `energy_models/*.toml` with sources.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

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
                       float(doc["leakage"]["pj_per_cycle"]), str(p))
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


def layer_work(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerWork]:
    """MACs, weights and activation sizes per conv/linear layer, from one traced forward."""
    out: list[LayerWork] = []
    hooks = []

    def make(name: str):
        def hook(m: nn.Module, inp, o) -> None:
            if isinstance(m, nn.Conv2d):
                macs = o[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
            else:
                macs = m.in_features * m.out_features
            out.append(LayerWork(name, int(macs), int(m.weight.numel()), int(inp[0][0].numel()), int(o[0].numel())))
        return hook

    for name, m in weight_layers(model):
        hooks.append(m.register_forward_hook(make(name)))
    forward_once(model, input_shape, hooks)
    return out


def layer_energy(em: EnergyModel, w: LayerWork, bits: int) -> dict[str, float]:
    """Energy terms (pJ) and cycles of one layer at `bits`."""
    em.check_bits(bits)
    cycles = math.ceil(w.macs / em.macs_per_cycle(bits))
    e = {"mac": w.macs * em.mac_pj[bits],
         "weight": w.params * bits / 8 * em.weight_pj_per_byte,
         "activation": (w.in_elems + w.out_elems) * bits / 8 * em.act_pj_per_byte,
         "leakage": cycles * em.leak_pj_per_cycle}
    e["total"] = sum(e.values())
    e["cycles"] = cycles
    return e


def network_energy(em: EnergyModel, work: list[LayerWork], bits: dict[str, int] | list[int] | int) -> float:
    """Energy (pJ) of one inference with per-layer precisions."""
    if isinstance(bits, int):
        bl = [bits] * len(work)
    elif isinstance(bits, dict):
        bl = [bits[w.name] for w in work]
    else:
        bl = list(bits)
    return sum(layer_energy(em, w, b)["total"] for w, b in zip(work, bl, strict=True))


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
                   mac_pj={b: e * ratio for b, e in em.mac_pj.items()}, leak_pj_per_cycle=leak,
                   source=f"{em.source} calibrated to {p_total * 1e3:.3f} mW @ {period * 1e9:.3g} ns")
