"""Stages: one step of the flow with declared, typed configuration variables.

Modelled on OpenLane 2's `Step`: a stage declares its `id`, the views it reads (`inputs`) and
writes (`outputs`) and its config variables; `run(state, ctx)` returns only what it changed
(a `StageResult`), and the runner merges that into the next immutable `State`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from flow.errors import ConfigError
from flow.state import State

if TYPE_CHECKING:
    from flow.platform import Platform

_REQUIRED = object()


@dataclass(frozen=True)
class Variable:
    """A typed configuration variable (ORFS name where one exists).

    `type` is any annotation pydantic can validate (`float`, `int | None`, `list[str]`, `Path`,
    `dict[str, int]`, `Literal[...]`). Paths are resolved relative to the config file.
    Numeric variables declare their range (`min`, `max`, `positive`) so a value such as
    CLOCK_PERIOD 0 or PLACE_ITERATIONS -5 is refused with the variable's name and source.
    """

    name: str
    type: Any
    doc: str
    default: Any = _REQUIRED
    unit: str | None = None
    source: str = "flow"  # who declared it: "flow", a stage id, or a plugin name
    #: range of a numeric value (each number of a list), checked before any run directory
    #: exists; every float must be finite whatever the range
    min: float | None = None
    max: float | None = None
    positive: bool = False  # > 0 (a period, a count of bins)

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


@dataclass
class StageResult:
    """What a stage changed: new or replaced views, and new metrics (ORFS-style keys)."""

    views: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageContext:
    """Everything a stage may use besides the State: config, platform, its own directory."""

    config: Mapping[str, Any]
    platform: Platform
    stage_dir: Path
    run_dir: Path
    design_dir: Path
    backend: str = "embedded"
    hook: Any = None  # pluggy HookRelay of the run's plugin manager
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("vhflow"))
    cache: dict[Any, Any] = field(default_factory=dict)  # per-run cache of parsed objects
    dry_run: bool = False

    def path(self, name: str) -> Path:
        """A file inside this stage's directory (parent folders created)."""
        p = self.stage_dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def cached(self, key: Any, factory: Callable[[], Any]) -> Any:
        """Parse-once objects for a run (liberty, netlists) keyed by e.g. (kind, path, mtime)."""
        if key not in self.cache:
            self.cache[key] = factory()
        return self.cache[key]


class Stage:
    """Base class of all stages. Subclasses set the class attributes and implement `run`."""

    id: ClassVar[str]
    name: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    config_vars: ClassVar[tuple[Variable, ...]] = ()

    @classmethod
    def enabled(cls, config: Mapping[str, Any]) -> bool:
        """Whether the stage runs for this config (opt-in plugin stages override this)."""
        return True

    def run(self, state: State, ctx: StageContext) -> StageResult:  # pragma: no cover - abstract
        raise NotImplementedError(f"stage {type(self).__name__} does not implement run()")


class FlowSpec:
    """The ordered list of stage classes; plugins edit it in `vhflow_add_stages(flow)`."""

    def __init__(self, stages: list[type[Stage]] | None = None) -> None:
        self.stages: list[type[Stage]] = list(stages or [])

    def ids(self) -> list[str]:
        return [s.id for s in self.stages]

    def _index(self, stage_id: str) -> int:
        for i, s in enumerate(self.stages):
            if s.id == stage_id:
                return i
        raise ConfigError(f"no stage {stage_id!r} in the flow (stages: {', '.join(self.ids())})")

    def _check_new(self, stage: type[Stage]) -> None:
        if stage.id in self.ids():
            raise ConfigError(f"a stage with id {stage.id!r} is already in the flow")

    def append(self, stage: type[Stage]) -> None:
        self._check_new(stage)
        self.stages.append(stage)

    def insert_after(self, stage_id: str, stage: type[Stage]) -> None:
        self._check_new(stage)
        self.stages.insert(self._index(stage_id) + 1, stage)

    def insert_before(self, stage_id: str, stage: type[Stage]) -> None:
        self._check_new(stage)
        self.stages.insert(self._index(stage_id), stage)

    def replace(self, stage_id: str, stage: type[Stage]) -> None:
        self.stages[self._index(stage_id)] = stage

    def remove(self, stage_id: str) -> None:
        del self.stages[self._index(stage_id)]

    def __iter__(self):
        return iter(self.stages)

    def __len__(self) -> int:
        return len(self.stages)
