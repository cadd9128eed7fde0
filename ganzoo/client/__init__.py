"""The zoo client: presets, hub, bounded download, files, image grids, labels and batched generation.

Imports only numpy, pillow and the standard library, so the base install
(`pip install keras-ganzoo`, no extras) lists, downloads and verifies
presets. An import-linter contract in CI keeps it that way.
"""
