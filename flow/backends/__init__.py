"""Backends that run external tools (DESIGN.md §3): `openroad` renders ORFS/OpenROAD files and
runs `openroad`; the default embedded backend lives in `flow.engines`."""
