"""The `portal` MkDocs plugin: hooks only; rendering lives in `portal.docs.render`."""

from __future__ import annotations

from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as opt
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.livereload import LiveReloadServer
from mkdocs.plugins import BasePlugin, get_plugin_logger
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.pages import Page

from portal.catalog import CatalogError
from portal.docs.publish import prepare, today_in
from portal.docs.render import Renderer

log = get_plugin_logger(__name__)


# MkDocs' `__init_subclass__` has no annotations; mypy flags each subclass.
class PortalConfig(base.Config):  # type: ignore[no-untyped-call]
    catalog_dir = opt.Dir(exists=True, default="catalog")
    templates_dir = opt.Dir(exists=True, default="templates")


class PortalPlugin(BasePlugin[PortalConfig]):  # type: ignore[no-untyped-call]
    """Adds the pages and files generated from the catalog to a MkDocs build."""

    renderer: Renderer | None = None
    # Set by the preview (`portal.docs.engine`), which loads the catalog itself: drafts are
    # allowed there and nothing is sealed.
    given: Renderer | None = None

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        """Load and check the catalog and its archive; any problem aborts the build."""
        if self.given is not None:
            self.renderer = self.given
            return config
        try:
            catalog, archive = prepare(self.config.catalog_dir)
        except CatalogError as err:
            count = len(err.problems)
            raise PluginError(
                f"The catalog has {count} problem{'s' if count != 1 else ''}:\n{err}"
            ) from None
        self.renderer = Renderer(
            catalog,
            archive,
            templates_dir=self.config.templates_dir,
            site_url=config.site_url,
            today=today_in(catalog.policy),
        )
        return config

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        """Add each generated page and file in memory; only index pages are in the navigation."""
        assert self.renderer is not None
        site = self.renderer.site()
        for uri, text in site.pages.items():
            files.append(File.generated(config, uri, content=text, inclusion=inclusion(uri)))
        for uri, text in site.files.items():
            files.append(File.generated(config, uri, content=text))
        log.info("%d pages generated from the catalog", len(site.pages))
        return files

    def on_page_markdown(
        self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str:
        """Expand the `<!-- portal:... -->` markers of hand-written pages."""
        if page.file.generated_by is not None or self.renderer is None:
            return markdown
        return self.renderer.includes(markdown, page.file.src_uri)

    def on_serve(
        self, server: LiveReloadServer, *, config: MkDocsConfig, builder: Any
    ) -> LiveReloadServer:
        """`mkdocs serve` rebuilds when a catalog file or a template changes."""
        server.watch(self.config.catalog_dir)
        server.watch(self.config.templates_dir)
        return server


def inclusion(uri: str) -> InclusionLevel:
    """Product and version pages stay out of the navigation: see `portal.docs.render`."""
    return (
        InclusionLevel.NOT_IN_NAV
        if uri.startswith("products/") and uri != "products/index.md"
        else InclusionLevel.UNDEFINED
    )
