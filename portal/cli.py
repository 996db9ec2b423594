"""The `portal` command: parses options and calls library functions; nothing imports it.

Commands load lazily: `portal check`, which the legal team runs after every edit, imports the
catalog alone, not Flask, SQLAlchemy and MkDocs (about a second of start-up saved).
"""

from __future__ import annotations

import importlib

import click

# Command name -> the module of `portal.commands` that defines it (in its COMMANDS tuple).
COMMAND_MODULES = {
    "check": "catalog",
    "schema": "catalog",
    "build": "site",
    "preview": "site",
    "render": "site",
    "export": "site",
    "serve": "cases",
    "send-mail": "cases",
    "db": "cases",
    "staff": "staff",
    "remind": "staff",
    "audit": "staff",
    "export-cases": "staff",
    "export-report": "staff",
    "keys": "proof",
    "receipt": "proof",
    "verify-site": "proof",
}


class _LazyGroup(click.Group):
    """A group that imports a command's module only when that command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"portal.commands.{module_name}")
        commands: tuple[click.Command, ...] = module.COMMANDS
        for command in commands:
            if command.name == cmd_name:
                return command
        raise LookupError(f"portal.commands.{module_name} does not define {cmd_name!r}")


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aiact-portal")
def cli() -> None:
    """Run the AI Act portal: check the catalog, build the site, serve the forms."""
