"""`portal build`, `portal preview`, `portal render` and `portal export`: the site and the Form."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

import click

from portal.catalog import CatalogError, load_catalog
from portal.catalog.export import FORMATS, export_form
from portal.catalog.models import AIO, DP, NCA
from portal.commands.proof import signing_key_file
from portal.docs.publish import BuildFailed, build_site, prepare, today_in
from portal.docs.render import Renderer, write_docs

# The names of the contract; the model's own name for downstream providers works too.
CLI_AUDIENCES = {"downstream": DP, "ai-office": AIO, "national-authority": NCA, DP: DP}

_catalog_option = click.option(
    "--catalog",
    "catalog_dir",
    default="catalog",
    show_default=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The catalog folder.",
)


def _problems(err: CatalogError) -> NoReturn:
    """Print the catalog's problems as `portal check` does, then stop with status 1."""
    for problem in err.problems:
        click.echo(str(problem), err=True)
    count = len(err.problems)
    click.echo(
        f"{count} problem{'s' if count != 1 else ''} found; the site was not built.", err=True
    )
    sys.exit(1)


@click.command()
@click.option(
    "--site-dir",
    default="site",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the built site goes; replaced only when the build succeeds.",
)
@click.option(
    "-f",
    "--config-file",
    default="mkdocs.yml",
    show_default=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The MkDocs configuration.",
)
@_catalog_option
def build(site_dir: Path, config_file: Path, catalog_dir: Path) -> None:
    """Build the documentation site strictly, with its signed manifest; swap it in only on
    success."""
    try:
        built = build_site(
            site_dir,
            config_file=config_file,
            catalog_dir=catalog_dir,
            signing_key=signing_key_file(),
        )
    except CatalogError as err:
        _problems(err)
    except BuildFailed as err:
        click.echo(err.output, err=True)
        click.echo("The site was not built; the previous site is unchanged.", err=True)
        sys.exit(1)
    click.echo(f"Built {built.pages} pages into {site_dir}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=int, help="The port (0: any free port)."
)
@click.option(
    "-f",
    "--config-file",
    default="mkdocs.yml",
    show_default=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The MkDocs configuration.",
)
@click.option(
    "--catalog",
    "catalog_dir",
    default=None,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The catalog folder (default: the one the configuration names).",
)
def preview(host: str, port: int, config_file: Path, catalog_dir: Path | None) -> None:
    """Build the site, serve it, and keep it current while the catalog or templates change."""
    # Imported here: `portal build` and `portal check` need neither MkDocs nor Flask loaded.
    from portal.docs.preview import Preview
    from portal.docs.server import Server
    from portal.docs.watch import Watcher
    from portal.web.security import SECURITY_HEADERS

    if catalog_dir is not None:  # as `portal build --catalog` tells the plugin
        os.environ["PORTAL_CATALOG_DIR"] = str(catalog_dir.absolute())
    site = Preview(config_file, echo=lambda line: click.echo(line, err=True))
    try:
        server = Server((host, port), site, SECURITY_HEADERS)
    except OSError as err:
        site.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {err.strerror}") from None
    watcher = Watcher(site.watched, site.changed)
    # A stop from outside (SIGTERM) ends as Ctrl+C does, removing the preview's folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.start()
        watcher.start()  # before the first build: a save made meanwhile is not lost
        click.echo(f"Serving http://{host}:{server.server_port}/ (Ctrl+C stops)", err=True)
        site.start()
        watched = ", ".join(os.path.relpath(p) for p in site.watched)
        click.echo(f"Watching {watched}", err=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        server.shutdown()
        server.server_close()
        site.close()


@click.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the Markdown pages into (a complete docs folder for any engine).",
)
@_catalog_option
@click.option(
    "--templates",
    "templates_dir",
    default="templates",
    show_default=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The Jinja2 templates of the pages.",
)
@click.option(
    "--sources",
    "sources_dir",
    default="site_src",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The hand-written pages, copied with their catalog markers expanded.",
)
@click.option(
    "--site-url",
    envvar="PORTAL_SITE_URL",
    default="http://127.0.0.1:8000/",
    show_default=True,
    help="The site's public address, for the Atom feed (env PORTAL_SITE_URL).",
)
def render(
    out: Path, catalog_dir: Path, templates_dir: Path, sources_dir: Path, site_url: str
) -> None:
    """Write the site's pages as Markdown files, so that any engine can build them."""
    try:
        catalog, archive = prepare(catalog_dir)
    except CatalogError as err:
        _problems(err)
    renderer = Renderer(
        catalog,
        archive,
        templates_dir=templates_dir,
        site_url=site_url,
        today=today_in(catalog.policy),
    )
    count = write_docs(
        renderer.site(),
        out,
        sources=sources_dir if sources_dir.is_dir() else None,
        expand=renderer.includes,
    )
    click.echo(f"Wrote {count} files into {out}")


@click.command()
@click.argument("product_id")
@click.option(
    "--audience",
    required=True,
    type=click.Choice(list(CLI_AUDIENCES)),
    help="Who receives the Form: only the items meant for them are written.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@_catalog_option
def export(
    product_id: str, audience: str, fmt: str, output: Path | None, catalog_dir: Path
) -> None:
    """Write the Model Documentation Form of PRODUCT_ID, filled for one audience."""
    try:
        catalog = load_catalog(catalog_dir)
    except CatalogError as err:
        _problems(err)
    product = catalog.get(product_id)
    if product is None:
        raise click.ClickException(f"no product with id '{product_id}' in {catalog_dir}")
    text = export_form(product, CLI_AUDIENCES[audience], fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote the form for audience {audience} to {output}", err=True)


COMMANDS = (build, preview, render, export)
