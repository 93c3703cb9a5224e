"""HTML sign-off report: sections from the core and from plugins, one self-contained file."""
