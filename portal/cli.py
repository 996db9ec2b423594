"""The `portal` command: parses options and calls library functions; nothing imports it."""

from __future__ import annotations

import importlib

import click

from portal.commands import catalog as catalog_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aiact-portal")
def cli() -> None:
    """Run the AI Act portal: check the catalog, build the site, serve the forms."""


for command in catalog_commands.COMMANDS:
    cli.add_command(command)

# Each area keeps its commands beside its options; a module lists them in COMMANDS.
for _module in ("site", "cases", "staff"):
    try:
        _mod = importlib.import_module(f"portal.commands.{_module}")
    except ModuleNotFoundError as err:
        if err.name != f"portal.commands.{_module}":
            raise
        continue
    for command in _mod.COMMANDS:
        cli.add_command(command)
