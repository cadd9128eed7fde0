"""Subcommands of the `ganzoo` CLI, one module each, registered by `ganzoo.cli`."""
