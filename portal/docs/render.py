"""Catalog -> the generated pages and files of the site, as Markdown and JSON; no MkDocs here.

Pages are plain Markdown with relative links between `.md` files, rendered from the Jinja2
templates in `templates/`, so any engine (MkDocs today, Zensical or another tomorrow) can build
them: `write_docs()` puts them on disk, the MkDocs plugin hands them over in memory. Templates
only ever see `audience.view(product)` and archived snapshots, which hold downstream fields
alone: nothing meant only for the authorities can reach a page, the search index, the feed or
`catalog.json`.

Navigation is a design choice for scale: only the index pages (products, classifications,
changes) sit in the navigation; product and version pages are reached from them and from
search. With Material every page renders the whole navigation, so a 1,000-product catalog in
the navigation would cost far more than the pages themselves.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import posixpath
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from portal.catalog import Catalog
from portal.catalog.audience import public_schema, view
from portal.catalog.form import label
from portal.catalog.published import Archive, Snapshot, diff
from portal.docs.claims import COPYRIGHT_POLICY as COPYRIGHT_POLICY_NAME
from portal.docs.claims import TRAINING_CONTENT, link_names
from portal.docs.items import display, documentation, facts
from portal.docs.legal import CLASSIFICATIONS, STATUSES, rule_path

log = logging.getLogger(__name__)

CATALOG_JSON = "catalog.json"
CATALOG_SCHEMA = "catalog.schema.json"
FEED = "changes/feed.xml"
REPORT_INCIDENT = "/report-incident"
REQUEST_INFORMATION = "/request-information"
# Hand-written pages ask for catalog content with these markers (an HTML comment, so an engine
# that does not expand them shows nothing rather than a broken page).
INCLUDE = re.compile(r"^<!--\s*portal:([a-z-]+)\s*-->[ \t]*$", re.MULTILINE)
LATEST_CHANGES = 5
# The provider's copyright policy (Art. 53(1)(c)): one page for every model, at a stable address.
COPYRIGHT_POLICY = "copyright-policy/index.md"


@dataclass
class Site:
    """Generated pages (Markdown, by docs-relative path) and other files (JSON, XML)."""

    pages: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """One change of one product, for the lists of changes and the feed."""

    product: Mapping[str, Any]
    version: int
    date: dt.date
    summary: str
    substantial: bool

    @property
    def uri(self) -> str:
        return version_uri(self.product["id"], self.version)


def product_uri(product_id: str) -> str:
    return f"products/{product_id}/index.md"


def version_uri(product_id: str, version: int) -> str:
    return f"products/{product_id}/v{version}/index.md"


def classification_uri(code: str) -> str:
    return f"classifications/{code}/index.md"


def training_content_uri(product_id: str) -> str:
    return f"products/{product_id}/training-content/index.md"


class Renderer:
    """Renders the pages of one catalog; build it once, then call `site()` or `includes()`."""

    def __init__(
        self,
        catalog: Catalog,
        archive: Archive,
        *,
        templates_dir: Path | str,
        site_url: str | None,
        today: dt.date,
        views: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self.catalog = catalog
        self.archive = archive
        self.site_url = (site_url or "").rstrip("/") + "/" if site_url else None
        self.today = today
        self.env = _environment(Path(templates_dir))
        # Shared by every page and by the macros, which are imported without context (faster).
        self.env.globals.update(classes=CLASSIFICATIONS, statuses=STATUSES, today=today)
        # The only product data the templates ever get. The preview hands over the `views` of
        # products that did not change since its last render.
        given = views or {}
        self.products = {
            pid: given[pid] if pid in given else view(p) for pid, p in catalog.products.items()
        }
        self.names = {pid: p["name"] for pid, p in self.products.items()}
        self.children: dict[str, list[str]] = {pid: [] for pid in self.products}
        for pid, p in self.products.items():
            for parent in p["based_on"]:
                self.children[parent].append(pid)

    def site(self) -> Site:
        """Every generated page and file."""
        site = self._lists(self.products)
        site.files[CATALOG_SCHEMA] = (
            json.dumps(catalog_schema(), indent=2, ensure_ascii=False) + "\n"
        )
        return site

    def affected(self, product_ids: Iterable[str]) -> Site:
        """Only what depends on these products: their pages, their relatives' pages, every list.

        The preview renders this after a product file is saved (`portal.docs.preview`).
        """
        ids: set[str] = set()
        for pid in product_ids:
            if pid in self.products:
                ids.update({pid, *self.relatives(pid)})
        return self._lists([pid for pid in self.products if pid in ids])

    def relatives(self, product_id: str) -> set[str]:
        """The products whose pages name this one: what it is based on, and what is based on it."""
        product = self.products.get(product_id)
        if product is None:
            return set()
        return {*product["based_on"], *self.children[product_id]}

    def product_pages(self, product_id: str) -> dict[str, str]:
        """One product's own page and its version pages."""
        product = self.products[product_id]
        pages = {product_uri(product_id): self._product(product)}
        for change in product["changes"]:
            uri = version_uri(product_id, change["version"])
            pages[uri] = self._version(product, change["version"], uri)
        if product.get("training_content_summary"):
            uri = training_content_uri(product_id)
            pages[uri] = self._page(
                "training-content.md.j2",
                uri,
                product=product,
                summary=product["training_content_summary"],
                product_uri=product_uri(product_id),
                parents=self._parents(product),
                copyright_policy=self._copyright_policy_uri(),
            )
        return pages

    def _lists(self, product_ids: Iterable[str]) -> Site:
        """The pages of `product_ids`, the lists of products and changes, the feed, catalog.json."""
        site = Site()
        rows = [self._row(p) for p in self.products.values()]
        site.pages["products/index.md"] = self._page(
            "products.md.j2", "products/index.md", rows=rows
        )
        for pid in product_ids:
            site.pages.update(self.product_pages(pid))
        if self._copyright_policy_uri():
            site.pages[COPYRIGHT_POLICY] = self._copyright_policy()
        site.pages["classifications/index.md"] = self._page(
            "classifications.md.j2",
            "classifications/index.md",
            groups=[
                (info, [r for r in rows if r["classification"] == code])
                for code, info in CLASSIFICATIONS.items()
            ],
        )
        for code, info in CLASSIFICATIONS.items():
            uri = classification_uri(code)
            members = [r for r in rows if r["classification"] == code]
            site.pages[uri] = self._page(
                "classification.md.j2",
                uri,
                info=info,
                rows=members,
                copyright_policy=None if code == "ai-system" else self._copyright_policy_uri(),
                summaries=[
                    (r["name"], training_content_uri(r["id"]))
                    for r in members
                    if self.products[r["id"]].get("training_content_summary")
                ],
            )
        entries = self.entries()
        site.pages["changes/index.md"] = self._page(
            "changes.md.j2", "changes/index.md", entries=entries
        )
        site.files[FEED] = self.feed(entries)
        site.files[CATALOG_JSON] = self.catalog_json()
        return site

    def includes(self, markdown: str, uri: str) -> str:
        """A hand-written page with its `<!-- portal:name -->` markers expanded."""

        def expand(match: re.Match[str]) -> str:
            name = match.group(1)
            try:
                template = self.env.get_template(f"include/{name}.md.j2")
            except jinja2.TemplateNotFound:
                log.warning("%s: unknown include <!-- portal:%s -->", uri, name)
                return match.group(0)
            return template.render(self._context(uri, **self._include_data())).strip()

        return INCLUDE.sub(expand, markdown)

    def entries(self) -> list[Entry]:
        """Every change of every product, newest first."""
        found = [
            Entry(p, c["version"], dt.date.fromisoformat(c["date"]), c["summary"], c["substantial"])
            for p in self.products.values()
            for c in p["changes"]
        ]
        found.sort(key=lambda e: (e.date, e.product["id"], e.version), reverse=True)
        return found

    def feed(self, entries: Iterable[Entry]) -> str:
        """The Atom feed of substantial changes, newest first."""
        substantial = [e for e in entries if e.substantial]
        base = self.site_url or "urn:aiact-portal:"
        updated = max((e.date for e in substantial), default=self.today)
        return self.env.get_template("feed.xml.j2").render(
            entries=substantial,
            base=base,
            href=lambda uri: base + _page_url(uri),
            updated=_instant(updated),
            instant=_instant,
            title=self._site_title(),
            feed_url=base + FEED,
        )

    def catalog_json(self) -> str:
        """The public catalog: every product, downstream fields only."""
        data = {"products": list(self.products.values())}
        # No indent: the C encoder is ten times faster on a large catalog, and machines read it.
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"

    def _site_title(self) -> str:
        providers = sorted({p["provider"] for p in self.products.values()})
        return (
            f"{', '.join(providers) or 'AI Act portal'}: substantial changes to the documentation"
        )

    def _include_data(self) -> dict[str, Any]:
        upcoming = sorted(
            (
                p
                for p in self.products.values()
                if p["status"] != "available"
                and p["effective_date"]
                and dt.date.fromisoformat(p["effective_date"]) >= self.today
            ),
            key=lambda p: (p["effective_date"], p["name"]),
        )
        latest = [e for e in self.entries() if e.substantial][:LATEST_CHANGES]
        return {"upcoming": upcoming, "latest": latest}

    def _row(self, product: Mapping[str, Any]) -> dict[str, Any]:
        changes = product["changes"]
        substantial = [c for c in changes if c["substantial"]]
        return {
            "id": product["id"],
            "name": product["name"],
            "classification": product["classification"],
            "status": product["status"],
            "effective_date": product["effective_date"],
            "version": changes[-1]["version"] if changes else None,
            "last_substantial": substantial[-1]["date"] if substantial else None,
            "uri": product_uri(product["id"]),
        }

    def _product(self, product: Mapping[str, Any]) -> str:
        pid = product["id"]
        uri = product_uri(pid)
        versions = [
            {
                **c,
                "uri": version_uri(pid, c["version"]),
                "archived": self.archive.get(pid, c["version"]) is not None,
            }
            for c in reversed(product["changes"])
        ]
        return self._page(
            uri=uri,
            name="product.md.j2",
            product=product,
            info=CLASSIFICATIONS[product["classification"]],
            steps=rule_path(product),
            doc=documentation(content_of_view(product)),
            facts=facts(product),
            documents=self._documents(product),
            versions=versions,
            parents=self._parents(product),
            children=[(c, self.names[c], product_uri(c)) for c in self.children[pid]],
            report_url=f"{REPORT_INCIDENT}?product={pid}",
            request_url=f"{REQUEST_INFORMATION}?product={pid}",
        )

    def _parents(self, product: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        return [(b, self.names[b], product_uri(b)) for b in product["based_on"]]

    def _documents(self, product: Mapping[str, Any]) -> dict[str, str | None]:
        """The pages of Art. 53(1)(c) and (d) a model's page links to; None when there is none.

        A page names a document only with its link, so it never claims one that does not exist.
        """
        if product["classification"] == "ai-system":
            return {COPYRIGHT_POLICY_NAME: None, TRAINING_CONTENT: None}
        summary = product.get("training_content_summary")
        return {
            COPYRIGHT_POLICY_NAME: self._copyright_policy_uri(),
            TRAINING_CONTENT: training_content_uri(product["id"]) if summary else None,
        }

    def _copyright_policy_uri(self) -> str | None:
        provider = self.catalog.provider
        return COPYRIGHT_POLICY if provider and provider.copyright_policy else None

    def _copyright_policy(self) -> str:
        """The provider's policy: its own Markdown page, or a page pointing to its address."""
        provider = self.catalog.provider
        assert provider is not None and provider.copyright_policy is not None
        policy = provider.copyright_policy
        # The legal team's own Markdown, published as written (it is not catalog data).
        body = (
            (self.catalog.root / policy.page).read_text(encoding="utf-8") if policy.page else None
        )
        summaries = [
            (p["name"], training_content_uri(pid))
            for pid, p in self.products.items()
            if p.get("training_content_summary")
        ]
        return self._page(
            "copyright-policy.md.j2",
            COPYRIGHT_POLICY,
            provider=provider.name,
            body=body,
            url=policy.url,
            summaries=summaries,
        )

    def _version(self, product: Mapping[str, Any], version: int, uri: str) -> str:
        pid = product["id"]
        changes = product["changes"]
        index = next(i for i, c in enumerate(changes) if c["version"] == version)
        change = changes[index]
        snap = self.archive.get(pid, version)
        previous = changes[index - 1] if index else None
        before: Snapshot | None = self.archive.get(pid, previous["version"]) if previous else None
        differences = None
        if snap is not None and before is not None:
            differences = [
                {
                    "label": _path_label(d.path),
                    "before": display(d.before),
                    "after": display(d.after),
                }
                for d in diff(before.content, snap.content)
            ]
        content = snap.content if snap is not None else None
        return self._page(
            "version.md.j2",
            uri,
            product=product,
            change=change,
            current=changes[-1]["version"],
            previous=previous,
            previous_uri=version_uri(pid, previous["version"]) if previous else None,
            product_uri=product_uri(pid),
            archived=snap is not None,
            previous_archived=before is not None,
            differences=differences,
            doc=documentation(content) if content else None,
            facts=facts(content) if content else [],
        )

    def _page(self, name: str, uri: str, **data: Any) -> str:
        return self.env.get_template(name).render(self._context(uri, **data))

    def _context(self, uri: str, **data: Any) -> dict[str, Any]:
        here = posixpath.dirname(uri)

        def summary(text: str, product_id: str, cell: bool = False) -> str:
            """A change summary as safe Markdown, the documents it names linked."""
            text = _cell(text) if cell else _md(text)
            targets = self._documents(self.products[product_id])
            return link_names(text, targets, lambda target: relative(target, here))

        return {
            "link": lambda target: relative(target, here),
            "summary": summary,
            "page_uri": uri,
            "product_uri": product_uri,
            "version_uri": version_uri,
            "classification_uri": classification_uri,
            "training_content_uri": training_content_uri,
            **data,
        }


def render_site(
    catalog: Catalog,
    archive: Archive,
    *,
    templates_dir: Path | str,
    site_url: str | None,
    today: dt.date,
) -> Site:
    """Every generated page and file of the site for `catalog`."""
    return Renderer(
        catalog, archive, templates_dir=templates_dir, site_url=site_url, today=today
    ).site()


def write_docs(
    site: Site, out: Path, *, sources: Path | None, expand: Callable[[str, str], str]
) -> int:
    """Write a complete docs folder: the hand-written `sources` (markers expanded), then `site`."""
    count = 0
    if sources is not None:
        for path in sorted(sources.rglob("*")):
            if not path.is_file():
                continue
            rel = path.relative_to(sources).as_posix()
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".md":
                target.write_text(expand(path.read_text(encoding="utf-8"), rel), encoding="utf-8")
            else:
                shutil.copyfile(path, target)
            count += 1
    for rel, text in [*site.pages.items(), *site.files.items()]:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        count += 1
    return count


def catalog_schema() -> dict[str, Any]:
    """JSON Schema of `catalog.json`, published beside it."""
    product = public_schema()
    defs = product.pop("$defs", {})
    product.pop("$schema", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Public catalog of covered products",
        "description": "Every covered product with the fields downstream providers may read.",
        "type": "object",
        "additionalProperties": False,
        "required": ["products"],
        "properties": {"products": {"type": "array", "items": {"$ref": "#/$defs/Product"}}},
        "$defs": {**defs, "Product": product},
    }


def relative(target: str, here: str) -> str:
    """The link from a page in folder `here` to `target`, both relative to the docs folder.

    `posixpath.relpath` would do, but it asks the operating system for the current folder on
    every call, which shows at thousands of links per build.
    """
    to, start = target.split("/"), here.split("/") if here else []
    common = 0
    for a, b in zip(to[:-1], start, strict=False):
        if a != b:
            break
        common += 1
    return "/".join([".."] * (len(start) - common) + to[common:])


def content_of_view(product: Mapping[str, Any]) -> dict[str, Any]:
    """The versioned content of an already filtered product (as `published.content_of`)."""
    return {k: v for k, v in product.items() if k != "changes"}


def _path_label(path: tuple[str, ...]) -> str:
    key = ".".join(path[1:] if path and path[0] == "documentation" else path)
    return label(key)


def _page_url(uri: str) -> str:
    """The directory URL MkDocs gives a page: `products/x/index.md` -> `products/x/`."""
    if uri.endswith("index.md"):
        return uri[: -len("index.md")]
    return uri.removesuffix(".md") + "/"


def _instant(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _md(value: Any) -> str:
    """Text from the catalog, safe inside Markdown: no HTML from YAML reaches a page."""
    return html.escape(str(value), quote=False)


def _front(value: Any) -> str:
    """A front-matter value: HTML-escaped (themes print titles unescaped), as a YAML string."""
    return json.dumps(_md(value).replace('"', "&quot;"))


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return _md(value).replace("|", "&#124;").replace("\r", "").replace("\n", "<br>")


def _linked(text: Any, href: str, *, cell: bool = False) -> str:
    """A Markdown link to a web address from the catalog, its text and address made safe."""
    label = (_cell(text) if cell else _md(text)).replace("[", "\\[").replace("]", "\\]")
    # Percent-encode what would end the link early: parentheses, spaces, angle brackets, pipes.
    return f"[{label}]({quote(href, safe=_URL_SAFE)})"


_URL_SAFE = ":/?#@!$&'*+,;=%~-._"


def _environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=lambda name: bool(name and name.endswith(".xml.j2")),
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # one environment per build: no need to stat templates per page
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = _md
    env.filters["cell"] = _cell
    env.filters["linked"] = _linked
    env.filters["front"] = _front
    env.filters["display"] = display
    env.filters["page_url"] = _page_url
    return env
