"""The section API plugins fill through `vhflow_report_sections`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ReportSection:
    """A titled block of trusted HTML (escape user strings!) placed by `order` (lower first)."""

    title: str
    html: str
    order: int = 100
    source: str = ""  # plugin or stage that produced it
