"""Plugin discovery: the built-in plugins and third-party ones share the entry-point group
`vhflow.plugins`, so a built-in plugin has no privilege a user's plugin lacks.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import types
from collections.abc import Iterable

import pluggy

from flow import hookspecs
from flow.errors import ConfigError

ENTRY_POINT_GROUP = "vhflow.plugins"
hookimpl = pluggy.HookimplMarker("vhflow")

# what pluggy can take as a hook implementation; anything else is skipped by its exact type
_HOOKABLE = (types.FunctionType, types.MethodType, staticmethod, classmethod)


class _PluginManager(pluggy.PluginManager):
    """pluggy's manager that never touches a plugin attribute that cannot be a hook.

    Why: plugins keep their engines behind `flow.util.lazy_import` so `vhflow --help` stays
    fast; pluggy's discovery calls `isinstance` on every module attribute, which reads
    `__class__` and would load each lazy module (numpy, scipy, numba) at start-up."""

    def parse_hookimpl_opts(self, plugin, name):  # type: ignore[no-untyped-def]
        if type(inspect.getattr_static(plugin, name, None)) not in _HOOKABLE:
            return None
        return super().parse_hookimpl_opts(plugin, name)


def get_plugin_manager(
    disable: Iterable[str] = (), extra: Iterable[object] = (), *, entry_points: bool = True
) -> pluggy.PluginManager:
    """A fresh plugin manager with entry-point plugins loaded (no module-level singleton).

    `disable` names entry points to skip; `VHFLOW_DISABLE_PLUGINS` (comma-separated) adds to it.
    `extra` registers plugin objects directly (tests, scripts); `entry_points=False` loads none.
    """
    pm = _PluginManager("vhflow")
    pm.add_hookspecs(hookspecs)
    blocked = set(disable) | {s.strip() for s in os.environ.get("VHFLOW_DISABLE_PLUGINS", "").split(",") if s.strip()}
    seen: set[str] = set()
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if entry_points else []
    for ep in sorted(eps, key=lambda e: e.name):
        if ep.name in blocked or ep.name in seen:
            continue
        seen.add(ep.name)
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must say who it is
            raise ConfigError(f"plugin {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}") from exc
        pm.register(plugin, name=ep.name)
    for plugin in extra:
        pm.register(plugin)
    return pm


def plugin_list(pm: pluggy.PluginManager) -> list[tuple[str, str]]:
    """(name, "module (distribution version)") for every registered plugin."""
    dists: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group == ENTRY_POINT_GROUP:
                dists[ep.name] = f"{dist.metadata['Name']} {dist.version}"
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        module = getattr(plugin, "__name__", type(plugin).__name__)
        rows.append((name, f"{module} ({dists[name]})" if name in dists else module))
    return rows
