"""The State handed from stage to stage.

As in OpenLane 2, a State maps *views* (design formats: `verilog`, `sdc`, `def`, `spef`,
`saif`, `upf`, `timing`, `power`, ...) to files, plus the metrics gathered so far. It is
immutable: a stage returns only what it changed and the runner builds the next State, so a stage
can be tested in isolation from a hand-made State and `--from` can resume from the State a
finished stage saved next to its outputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from flow.errors import StageError

#: Views the core knows about (plugins may add others; names are free-form strings).
KNOWN_VIEWS = {
    "verilog": "gate-level netlist (structural Verilog)",
    "sdc": "timing constraints",
    "def": "floorplan or placement (DEF)",
    "spef": "parasitics (SPEF)",
    "vcd": "switching activity (VCD)",
    "saif": "switching activity (SAIF)",
    "upf": "power intent (UPF)",
    "islands": "FINE-VH island assignment (JSON)",
    "timing": "timing results (JSON)",
    "power": "power results (JSON + per-instance arrays)",
    "thermal": "thermal results (JSON + maps)",
}


class State(Mapping[str, Path]):
    """Immutable mapping view -> file, with the metrics collected so far."""

    __slots__ = ("_views", "_metrics")

    def __init__(self, views: Mapping[str, Path] | None = None, metrics: Mapping[str, Any] | None = None):
        self._views = MappingProxyType({k: Path(v) for k, v in (views or {}).items()})
        self._metrics = MappingProxyType(dict(metrics or {}))

    def __getitem__(self, view: str) -> Path:
        try:
            return self._views[view]
        except KeyError:
            raise StageError(
                f"view {view!r} is not in the state (has: {', '.join(sorted(self._views)) or 'nothing'}); "
                "an earlier stage that produces it did not run"
            ) from None

    def __contains__(self, view: object) -> bool:
        return view in self._views

    def get(self, view: str, default: Path | None = None) -> Path | None:  # type: ignore[override]
        return self._views.get(view, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    @property
    def metrics(self) -> Mapping[str, Any]:
        return self._metrics

    def updated(self, views: Mapping[str, Path] | None = None, metrics: Mapping[str, Any] | None = None) -> State:
        """A new State with these views replaced/added and these metrics merged in."""
        return State({**self._views, **(views or {})}, {**self._metrics, **(metrics or {})})

    def to_json(self, base: Path | None = None) -> dict[str, Any]:
        """Views as strings; relative to `base` when inside it (run dirs stay relocatable)."""

        def rel(p: Path) -> str:
            if base is not None:
                try:
                    return str(p.resolve().relative_to(Path(base).resolve()))
                except ValueError:
                    pass
            return str(p)

        return {"views": {k: rel(v) for k, v in self._views.items()}, "metrics": dict(self._metrics)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base: Path | None = None) -> State:
        views = {k: (Path(base) / v if base is not None and not Path(v).is_absolute() else Path(v))
                 for k, v in data.get("views", {}).items()}
        return cls(views, data.get("metrics", {}))

    def save(self, path: Path, base: Path | None = None) -> None:
        from flow.util import atomic_write_text, json_default

        text = json.dumps(self.to_json(base), indent=2, sort_keys=True, default=json_default)
        atomic_write_text(path, text)

    @classmethod
    def load(cls, path: Path, base: Path | None = None) -> State:
        return cls.from_json(json.loads(Path(path).read_text()), base)

    def __repr__(self) -> str:
        return f"State(views={sorted(self._views)}, metrics={len(self._metrics)})"

