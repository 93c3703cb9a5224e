"""vhflow: a plugin-based physical-design flow around OpenROAD (see DESIGN.md)."""

__version__ = "0.1.0"
