"""Thermal sign-off plugin: temperature maps from placed power, HotSpot files, thermal DVFS."""
