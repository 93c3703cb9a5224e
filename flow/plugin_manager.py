"""Plugin discovery: the built-in plugins and third-party ones share the entry-point group
`vhflow.plugins`, so a built-in plugin has no privilege a user's plugin lacks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pluggy

from flow import hookspecs
from flow.errors import ConfigError

ENTRY_POINT_GROUP = "vhflow.plugins"
hookimpl = pluggy.HookimplMarker("vhflow")


def get_plugin_manager(disable: Iterable[str] = (), extra: Iterable[object] = ()) -> pluggy.PluginManager:
    """A fresh plugin manager with entry-point plugins loaded (no module-level singleton).

    `disable` names entry points to skip; `VHFLOW_DISABLE_PLUGINS` (comma-separated) adds to it.
    `extra` registers plugin objects directly (tests, scripts).
    """
    pm = pluggy.PluginManager("vhflow")
    pm.add_hookspecs(hookspecs)
    blocked = set(disable) | {s.strip() for s in os.environ.get("VHFLOW_DISABLE_PLUGINS", "").split(",") if s.strip()}
    for name in blocked:
        pm.set_blocked(name)
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except Exception as exc:  # a broken third-party plugin must say who it is
        raise ConfigError(f"failed to load a plugin from entry-point group {ENTRY_POINT_GROUP!r}: {exc}") from exc
    for plugin in extra:
        pm.register(plugin)
    return pm


def plugin_list(pm: pluggy.PluginManager) -> list[tuple[str, str]]:
    """(name, module/distribution) for every registered plugin."""
    dists = {id(p): d for p, d in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        dist = dists.get(id(plugin))
        origin = f"{dist.project_name} {dist.version}" if dist is not None else getattr(plugin, "__name__", repr(plugin))
        rows.append((name, origin))
    return rows
