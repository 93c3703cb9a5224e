"""Help text as users of OpenSTA/ORFS tools expect it: a flag is shown as `--json`, not `--json <bool>`."""

from __future__ import annotations

from typing import Any


def flags_without_type() -> None:
    """Typer renders every option's type, flags included; a flag takes no value, so show none."""
    from typer.core import TyperOption

    if getattr(TyperOption.display_type_rich, "_vhflow", False):
        return
    original = TyperOption.display_type_rich

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if self.is_flag or self.count else original(self, ctx)

    display_type_rich._vhflow = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
