"""What each metric means and its unit, for the report, the CLI and the docs.

The table itself lives in `flow.metrics` (one source of truth for names, units, meanings and
the conversion to ORFS units); this module is the view tables people read use.
"""

from __future__ import annotations

from flow.metrics import METRIC_TABLE, Metric, describe, display, format_number

#: metrics.json key (a family ends in `*`) -> its table row.
METRICS: dict[str, Metric] = {m.name: m for m in METRIC_TABLE}

__all__ = ["METRICS", "Metric", "describe", "display", "format_number", "markdown_table"]


def markdown_table() -> str:
    """The metrics table of docs/USER_GUIDE.md (metric, unit in metrics.json, shown as, meaning)."""
    rows = ["| metric | unit | shown as | meaning |", "|---|---|---|---|"]
    for m in METRIC_TABLE:
        rows.append(f"| `{m.name}` | {m.unit or '—'} | {m.shown_unit or '—'} | {m.meaning} |")
    return "\n".join(rows)
