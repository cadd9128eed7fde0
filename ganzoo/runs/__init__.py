"""Runs that write files: `train` (run folders, checkpoints, locks, resume),
evaluation, publishing and migrating presets.

The top layer under `ganzoo.commands`: it combines training, metrics and the
exporter.
"""
