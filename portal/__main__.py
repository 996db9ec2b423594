"""`python -m portal`: the `portal` command (as `portal serve` starts its mail sender)."""

from portal.cli import cli

cli()
