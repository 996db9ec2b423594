"""`portal check` and `portal schema`: the legal team's commands for the catalog."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from portal.catalog import CatalogError, load_catalog
from portal.catalog.published import find_drafts, read_archive
from portal.catalog.schema import product_schema


@click.command()
@click.argument(
    "catalog_dir",
    default="catalog",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when the catalog is valid.")
def check(catalog_dir: Path, quiet: bool) -> None:
    """Check every product file of CATALOG_DIR (default: catalog) and print each problem.

    Problems exit 1. Warnings (`file:line:col: warning: ...`) are printed to stderr and the
    catalog is still valid: exit 0 and `OK: N products`.
    """
    try:
        catalog = load_catalog(catalog_dir)
        # What `portal build` refuses too: an edit of a published version without its change
        # entry, or an altered archive. Read only: `check` never seals a version.
        archive = read_archive(catalog)
        drafts = find_drafts(catalog, archive)
        if drafts:
            raise CatalogError(list(drafts.values()))
    except CatalogError as err:
        for problem in err.problems:
            click.echo(str(problem), err=True)
        count = len(err.problems)
        click.echo(f"{count} problem{'s' if count != 1 else ''} found.", err=True)
        sys.exit(1)
    # Warnings go to stderr, even with -q, and leave the exit status and `OK:` line alone.
    for warning in catalog.warnings:
        click.echo(
            f"{warning.path}:{warning.line}:{warning.col}: warning: {warning.message}", err=True
        )
    if not quiet:
        # The contract's wording, `OK: N products`, even for one product: scripts match it.
        click.echo(f"OK: {len(catalog.products)} products")


@click.command()
def schema() -> None:
    """Print the JSON Schema of a product file (for editors' completion and checks)."""
    click.echo(json.dumps(product_schema(), indent=2, ensure_ascii=False))


COMMANDS = (check, schema)
