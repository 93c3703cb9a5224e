"""Example vhflow plugin (copy this folder to start your own)."""
