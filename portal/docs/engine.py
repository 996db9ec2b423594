"""MkDocs kept in this process for the preview: one full build, then single pages built again.

`portal build` runs MkDocs as a command (`publish.py`). The preview keeps it loaded instead, so
that after a save it builds again only the pages that changed. The full build is MkDocs' own
`build()`; a small recorder plugin keeps the files, navigation and theme environment it made.
A page is then built again the way MkDocs builds one (read the Markdown, convert it, render the
theme template, with the plugins' page events but the search index's) and written through a
temporary file, so the server never sends half a page. Like `plugin.py`, this module moves if
the docs engine changes.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mkdocs.commands.build import build, get_context
from mkdocs.config import load_config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page

from portal.docs.plugin import PortalPlugin, inclusion
from portal.docs.render import INCLUDE, Renderer, Site

log = logging.getLogger(__name__)


class _Recorder(BasePlugin):  # type: ignore[type-arg,no-untyped-call]
    """Keeps what a full build made, to build single pages again later."""

    files: Files
    nav: Navigation
    env: Any

    @event_priority(-100)  # last: after every other plugin has had its say
    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        self.files = files
        return files

    @event_priority(-100)
    def on_nav(self, nav: Navigation, *, config: MkDocsConfig, files: Files) -> Navigation:
        self.nav = nav
        return nav

    @event_priority(-100)
    def on_env(self, env: Any, *, config: MkDocsConfig, files: Files) -> Any:
        self.env = env
        return env


class Engine:
    """One loaded MkDocs configuration and, after `build()`, the site it built."""

    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file
        self.config = self._load(None)
        self.recorder: _Recorder | None = None

    @property
    def plugin(self) -> PortalPlugin:
        return self._portal(self.config)

    def _portal(self, config: MkDocsConfig) -> PortalPlugin:
        plugin = config.plugins.get("portal")
        if not isinstance(plugin, PortalPlugin):
            raise LookupError(f"{self.config_file} does not use the portal plugin")
        return plugin

    @property
    def watched(self) -> list[Path]:
        """What takes a full build when it changes: config, hand-written pages, templates, theme."""
        templates = Path(self.plugin.config.templates_dir)
        paths = [self.config_file, Path(self.config.docs_dir), templates]
        custom = self.config.theme.custom_dir
        return paths + ([Path(custom)] if custom else [])

    def build(self, renderer: Renderer, site_dir: Path) -> list[str]:
        """A full build into `site_dir` from `renderer`'s pages; returns MkDocs' warnings.

        Not strict: the preview shows the site and lists the warnings that `portal build`
        (strict) would refuse, rather than showing nothing.
        """
        config = self._load(site_dir)
        config.strict = False
        self._portal(config).given = renderer
        recorder = _Recorder()
        config.plugins["portal-preview"] = recorder
        with _warnings() as warnings:
            config.plugins.on_startup(command="build", dirty=False)
            try:
                build(config)
            finally:
                config.plugins.on_shutdown()
        # Only a finished build replaces the one single pages are built into.
        self.config, self.recorder = config, recorder
        return warnings

    def rebuild(self, renderer: Renderer, site: Site, *, sources: bool = True) -> list[str]:
        """Build again the pages of `site` (and, with `sources`, hand-written pages with markers).

        Returns MkDocs' warnings. A page the last full build did not have (the version page of a
        new change entry) is added, out of the navigation; the preview takes a full build for a
        product added or removed.
        """
        assert self.recorder is not None, "build() first"
        self.plugin.renderer = renderer
        files = self.recorder.files
        with _warnings() as warnings:
            for uri, text in site.files.items():
                file = files.get_file_from_path(uri)
                if file is not None:
                    file.content_string = text
                    _write(Path(file.abs_dest_path), text)
            pages = []
            for uri, text in site.pages.items():
                file = files.get_file_from_path(uri)
                if file is None:  # a new version page: added before any page links to it
                    file = File.generated(self.config, uri, content=text, inclusion=inclusion(uri))
                    files.append(file)
                    Page(None, file, self.config)
                file.content_string = text
                assert file.page is not None
                pages.append(file.page)
            if sources:
                pages.extend(self._with_markers())
            for page in pages:
                self._populate(page)
            for page in pages:
                self._render(page)
        return warnings

    def _load(self, site_dir: Path | None) -> MkDocsConfig:
        options = {"site_dir": str(site_dir)} if site_dir is not None else {}
        return load_config(config_file=str(self.config_file), **options)

    def _with_markers(self) -> Iterator[Page]:
        """Hand-written pages that show catalog content through `<!-- portal:... -->` markers."""
        assert self.recorder is not None
        for file in self.recorder.files.documentation_pages():
            if file.generated_by is None and file.page is not None:
                if INCLUDE.search(file.content_string):
                    yield file.page

    def _populate(self, page: Page) -> None:
        """As MkDocs' `_populate_page`: the Markdown read and converted to HTML."""
        assert self.recorder is not None
        config, plugins, files = self.config, self.config.plugins, self.recorder.files
        config._current_page = page
        try:
            page = plugins.on_pre_page(page, config=config, files=files)
            page.read_source(config)
            assert page.markdown is not None
            page.markdown = plugins.on_page_markdown(
                page.markdown, page=page, config=config, files=files
            )
            page.render(config, files)
            assert page.content is not None
            page.content = plugins.on_page_content(
                page.content, page=page, config=config, files=files
            )
        finally:
            config._current_page = None

    def _render(self, page: Page) -> None:
        """As MkDocs' `_build_page`: the theme template around the page, written atomically."""
        assert self.recorder is not None
        config, plugins, nav = self.config, self.config.plugins, self.recorder.nav
        config._current_page = page
        page.active = True
        try:
            context = get_context(nav, self.recorder.files.documentation_pages(), config, page)
            template = self.recorder.env.get_template(page.meta.get("template", "main.html"))
            # No `page_context` event: its one user here is the search plugin, which collects
            # the search index that full builds alone write (a third of a rebuild's time).
            output = plugins.on_post_page(template.render(context), page=page, config=config)
            _write(Path(page.file.abs_dest_path), output)
        finally:
            page.active = False
            config._current_page = None


@contextmanager
def _warnings() -> Iterator[list[str]]:
    """MkDocs' warnings while the block runs, as plain lines."""
    found: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(record.getMessage())

    handler = _Keep(logging.WARNING)
    logger = logging.getLogger("mkdocs")
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8", errors="xmlcharrefreplace"))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
