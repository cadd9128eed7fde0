"""The zoo client: presets, hub, bounded download, files and image grids.

Imports only numpy, pillow and the standard library, so the base install
(`pip install keras-ganzoo`, no extras) lists, downloads and verifies
presets. An import-linter contract in CI keeps it that way.
"""
