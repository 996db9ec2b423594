"""The preview's state: the last good site, what is wrong now, and what a save builds again.

A saved catalog file reloads the whole catalog (about a second at 1,000 products), then
compares each product with the last good load: only the changed products' pages, their
relatives' pages and the lists, the feed and `catalog.json` are rendered again, the edited
product's own pages first, so the page being edited shows the edit before the long lists are
done. A template, a hand-written page, the theme, `mkdocs.yml`, the policy, or a product added
or removed takes a full build into a new folder, served once complete.

A catalog with problems keeps the last good pages served; the problems (and the edits still
waiting for their change entry, which `portal build` refuses but the preview shows) are what
the server lists in the banner of every page. `version` goes up whenever what is served
changes, and the pages' small script reloads on that.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from portal.catalog import Catalog, CatalogError, Problem, load_catalog
from portal.catalog.published import Archive, find_drafts, read_archive
from portal.docs.engine import Engine
from portal.docs.publish import today_in
from portal.docs.render import Renderer, Site

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    """What the banner says: problems keep the last good pages; drafts and warnings are shown."""

    version: int = 0
    problems: tuple[str, ...] = ()
    drafts: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass
class _Good:
    """The last catalog that loaded, and the renderer of the pages being served."""

    catalog: Catalog
    archive: Archive
    renderer: Renderer
    drafts: dict[str, Problem] = field(default_factory=dict)


class Preview:
    """Builds the site, then keeps it current as files change; `root` is the folder to serve."""

    def __init__(self, config_file: Path, *, echo: Callable[[str], None]) -> None:
        self.engine = Engine(config_file)
        self.echo = echo
        self.root: Path | None = None
        self.status = Status()
        self._good: _Good | None = None
        self._work = Path(tempfile.mkdtemp(prefix="portal-preview-"))
        self._lock = threading.Lock()  # one change at a time; the server only reads

    @property
    def catalog_dir(self) -> Path:
        return Path(self.engine.plugin.config.catalog_dir)

    @property
    def watched(self) -> list[Path]:
        return [self.catalog_dir, *self.engine.watched]

    def start(self) -> None:
        """The first full build."""
        with self._lock:
            self._full()

    def close(self) -> None:
        shutil.rmtree(self._work, ignore_errors=True)

    def changed(self, paths: Iterable[Path]) -> None:
        """Bring the site up to date after `paths` changed (called by the watcher)."""
        catalog_dir = self.catalog_dir.absolute()
        with self._lock:
            try:
                if self._good is None or any(
                    not p.absolute().is_relative_to(catalog_dir) for p in paths
                ):
                    self._full()
                else:
                    self._catalog()
            except Exception as err:  # a broken template, say: shown, and the preview goes on
                log.exception("The preview could not render the change")
                self._show(problems=[f"the preview could not render the change: {err}"])

    def _load(self) -> tuple[Catalog, Archive, set[str] | None] | None:
        """The catalog, its archive and the products changed since the last good load (None:
        everything is new), or None after showing the catalog's problems."""
        try:
            catalog = load_catalog(self.catalog_dir)
            archive = read_archive(catalog)
        except CatalogError as err:
            self._show(problems=[str(p) for p in err.problems])
            return None
        before = self._good
        if before is None or (set(catalog.products), catalog.policy) != (
            set(before.catalog.products),
            before.catalog.policy,
        ):
            return catalog, archive, None
        changed = {
            pid
            for pid, product in catalog.products.items()
            if before.catalog.products[pid] != product  # pydantic models compare by value
            or archive.snapshots.get(pid) != before.archive.snapshots.get(pid)
        }
        return catalog, archive, changed

    def _full(self) -> None:
        start = time.perf_counter()
        loaded = self._load()
        if loaded is None:
            return
        catalog, archive, _ = loaded
        drafts = find_drafts(catalog, archive)
        renderer = self._renderer(catalog, archive)
        site_dir = Path(tempfile.mkdtemp(prefix="site-", dir=self._work))
        try:
            warnings = self.engine.build(renderer, site_dir)
        except Exception as err:  # the engine's own error: shown, the last good site stays
            shutil.rmtree(site_dir, ignore_errors=True)
            self._show(problems=[f"{self.engine.config_file}: the site did not build: {err}"])
            return
        old, self.root = self.root, site_dir
        self._good = _Good(catalog, archive, renderer, drafts)
        self._show(drafts=[str(p) for p in drafts.values()], warnings=warnings)
        self.echo(f"Built the whole site in {time.perf_counter() - start:.1f} s")
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _catalog(self) -> None:
        start = time.perf_counter()
        before = self._good
        assert before is not None
        loaded = self._load()
        if loaded is None:
            return
        catalog, archive, changed = loaded
        if changed is None:  # a product added or removed, or the policy changed
            self._full()
            return
        drafts = {k: v for k, v in before.drafts.items() if k not in changed}
        drafts.update(find_drafts(catalog, archive, changed))
        views = {pid: v for pid, v in before.renderer.products.items() if pid not in changed}
        renderer = self._renderer(catalog, archive, views)
        self._good = _Good(catalog, archive, renderer, drafts)
        shown = [str(p) for p in drafts.values()]
        if not changed:  # nothing downstream providers see, or a file saved unchanged
            self._show(drafts=shown, warnings=self.status.warnings)
            return
        # The banner first, so the edited page never shows without what it is missing.
        self._show(drafts=shown, warnings=self.status.warnings)
        # The edited products' own pages first: that is the page the legal team is looking at.
        own = Site()
        for pid in sorted(changed):
            own.pages.update(renderer.product_pages(pid))
        warnings = self.engine.rebuild(renderer, own, sources=False)
        self._show(drafts=shown, warnings=warnings)
        first = time.perf_counter() - start
        # Then their relatives (old and new: a `based_on` may have moved) and every list.
        related = set(changed)
        for pid in changed:
            related |= before.renderer.relatives(pid) | renderer.relatives(pid)
        rest = renderer.affected(related)
        for uri in own.pages:
            del rest.pages[uri]
        warnings += self.engine.rebuild(renderer, rest)
        self._show(drafts=shown, warnings=warnings)
        self.echo(
            f"{', '.join(sorted(changed))}: {len(own.pages)} page(s) in {first:.1f} s, then "
            f"{len(rest.pages)} more in {time.perf_counter() - start:.1f} s in all"
        )

    def _renderer(
        self, catalog: Catalog, archive: Archive, views: dict[str, dict[str, object]] | None = None
    ) -> Renderer:
        plugin = self.engine.plugin
        return Renderer(
            catalog,
            archive,
            templates_dir=plugin.config.templates_dir,
            site_url=self.engine.config.site_url,
            today=today_in(catalog.policy),
            views=views,
        )

    def _show(
        self,
        *,
        problems: Iterable[str] = (),
        drafts: Iterable[str] = (),
        warnings: Iterable[str] = (),
    ) -> None:
        """Publish a new status and print what changed in it, as `portal check` would."""
        new = Status(
            self.status.version + 1, tuple(problems), tuple(drafts), tuple(dict.fromkeys(warnings))
        )
        old, self.status = self.status, new
        if (new.problems, new.drafts, new.warnings) == (old.problems, old.drafts, old.warnings):
            return
        for line in new.problems:
            self.echo(line)
        if new.problems:
            self.echo(f"{len(new.problems)} problem(s); the preview shows the last good pages.")
        for line in new.drafts:
            self.echo(f"draft: {line}")
        for line in new.warnings:
            self.echo(f"warning: {line}")
        if not (new.problems or new.drafts or new.warnings) and old.version:
            self.echo("No problems.")
