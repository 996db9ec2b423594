"""The archive of published documentation versions: every version stays readable, none changes.

The Code of Practice (Measures 1.1 and 1.3) asks that earlier versions of the documentation be
kept, protected against unintended alteration. The catalog YAML holds only the current text, so
each published version is frozen into a snapshot:

    catalog/published/manifest.json       {"<id>/v<N>.json": "<sha256 of that file>", ...}
    catalog/published/<id>/v<N>.json      version, date, summary, substantial, and `content`

`content` is what downstream providers were shown at version N: the product as they may read it
(`audience.view`), without `changes` (the history itself). The status is part of it: the legal
team announces a deprecation or withdrawal as a new version, so customers hear of it promptly.

`load_archive(catalog, seal=True)` checks, and refuses with `path:line:col: message` problems:
- a snapshot whose bytes no longer match the manifest (someone edited a published version);
- a snapshot missing from the manifest, or a manifest entry without its file;
- a published version removed from the product's `changes`, or its date or `substantial` changed;
- a product whose current documentation differs from the snapshot of its current version: the
  lawyer edited the YAML without publishing a new version, so the build points at the first
  field that differs and asks for a change with the next version number.
Then, with `seal=True`, it writes the snapshot of each current version not yet archived (the
first build after a lawyer adds a change) and records its hash. Earlier versions render from
their snapshots; a version published before the archive existed has only its summary.

The preview reads it another way: `read_archive` makes the same checks but seals nothing, and
`find_drafts` returns the last kind of problem (an edit waiting for its change entry) rather
than raising it, so the legal team sees the edit first and writes the change entry second.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portal.catalog.audience import view
from portal.catalog.loader import YamlProblem, display_path, read_document
from portal.catalog.models import DP, Change, Product
from portal.catalog.problems import CatalogError, Problem

if TYPE_CHECKING:
    from portal.catalog import Catalog

log = logging.getLogger(__name__)

PUBLISHED_DIR = "published"
MANIFEST = "manifest.json"
# The one field that changes without a new documentation version: the version history itself.
NOT_VERSIONED = ("changes",)
_SNAPSHOT = re.compile(r"^v([1-9][0-9]*)\.json$")


@dataclass(frozen=True)
class Snapshot:
    """One published version of one product's downstream documentation."""

    product_id: str
    version: int
    date: str
    summary: str
    substantial: bool
    content: Mapping[str, Any]


@dataclass(frozen=True)
class Difference:
    """One field that changed between two versions (`None` when absent on that side)."""

    path: tuple[str, ...]
    before: Any
    after: Any


@dataclass(frozen=True)
class Archive:
    """Every archived snapshot, by product id then version number."""

    snapshots: Mapping[str, Mapping[int, Snapshot]]

    def get(self, product_id: str, version: int) -> Snapshot | None:
        return self.snapshots.get(product_id, {}).get(version)


def content_of(product: Product) -> dict[str, Any]:
    """What a snapshot freezes: the downstream view of the product, without its history."""
    data = view(product, DP)
    for key in NOT_VERSIONED:
        data.pop(key, None)
    return data


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Difference]:
    """Every leaf field that differs between two contents, in the order of `after` then `before`."""
    flat_before, flat_after = dict(_flatten(before)), dict(_flatten(after))
    keys = list(flat_after) + [k for k in flat_before if k not in flat_after]
    return [
        Difference(k, flat_before.get(k), flat_after.get(k))
        for k in keys
        if flat_before.get(k) != flat_after.get(k)
    ]


def _flatten(
    data: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def dumps(data: Mapping[str, Any]) -> bytes:
    """The one byte form of a snapshot, so that its hash is stable."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def load_archive(catalog: Catalog, *, seal: bool = True) -> Archive:
    """Check the archive against the catalog, seal new current versions, or raise `CatalogError`."""
    root = catalog.root / PUBLISHED_DIR
    manifest, snapshots, problems = _read_archive(catalog)
    problems.extend(p for _, p in _drafts(catalog, snapshots))
    if problems:
        raise CatalogError(problems)
    new = [
        (p, p.changes[-1])
        for p in catalog.products.values()
        if p.changes and p.changes[-1].version not in snapshots.get(p.id, {})
    ]
    if new and seal:
        for product, change in new:
            snap = _snapshot(product, change)
            name = f"{product.id}/v{change.version}.json"
            data = dumps(_record(snap))
            _write(root / name, data)
            manifest[name] = hashlib.sha256(data).hexdigest()
            snapshots.setdefault(product.id, {})[change.version] = snap
            log.info("Archived %s version %s", product.id, change.version)
        _write(
            root / MANIFEST, (json.dumps(dict(sorted(manifest.items())), indent=2) + "\n").encode()
        )
    return _archive(snapshots)


def read_archive(catalog: Catalog) -> Archive:
    """The archive as it stands, checked as by `load_archive` but for drafts; never writes.

    The preview reads the archive this way, then asks `find_drafts` about what changed.
    """
    _, snapshots, problems = _read_archive(catalog)
    if problems:
        raise CatalogError(problems)
    return _archive(snapshots)


def find_drafts(
    catalog: Catalog, archive: Archive, product_ids: Iterable[str] | None = None
) -> dict[str, Problem]:
    """By product, the edits still waiting for their change entry (of `product_ids`, or all)."""
    snapshots = archive.snapshots
    ids = snapshots if product_ids is None else [p for p in product_ids if p in snapshots]
    return dict(_drafts(catalog, {pid: snapshots[pid] for pid in ids}))


def _read_archive(
    catalog: Catalog,
) -> tuple[dict[str, str], dict[str, dict[int, Snapshot]], list[Problem]]:
    """The manifest, the snapshots it vouches for, and every problem but drafts."""
    root = catalog.root / PUBLISHED_DIR
    problems: list[Problem] = []
    manifest = _read_manifest(root / MANIFEST, problems)
    snapshots: dict[str, dict[int, Snapshot]] = {}
    for name, expected in manifest.items():
        snap = _read_snapshot(root, name, expected, problems)
        if snap is not None:
            snapshots.setdefault(snap.product_id, {})[snap.version] = snap
    problems.extend(_unrecorded(root, manifest))
    problems.extend(_check_products(catalog, snapshots))
    return manifest, snapshots, problems


def _archive(snapshots: Mapping[str, Mapping[int, Snapshot]]) -> Archive:
    return Archive({pid: dict(sorted(v.items())) for pid, v in snapshots.items()})


def _snapshot(product: Product, change: Change) -> Snapshot:
    return Snapshot(
        product.id,
        change.version,
        change.date.isoformat(),
        change.summary,
        change.substantial,
        content_of(product),
    )


def _record(snap: Snapshot) -> dict[str, Any]:
    return {
        "product": snap.product_id,
        "version": snap.version,
        "date": snap.date,
        "summary": snap.summary,
        "substantial": snap.substantial,
        "content": snap.content,
    }


def _read_manifest(path: Path, problems: list[Problem]) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        line, col = getattr(err, "lineno", 1), getattr(err, "colno", 1)
        problems.append(Problem(display_path(path), line, col, f"not valid JSON: {err}"))
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        problems.append(
            Problem(display_path(path), 1, 1, 'must map "<id>/v<N>.json" to a sha256 hash')
        )
        return {}
    return data


def _read_snapshot(
    root: Path, name: str, expected: str, problems: list[Problem]
) -> Snapshot | None:
    path = root / name
    shown = display_path(path)
    if not path.is_file():
        problems.append(
            Problem(
                display_path(root / MANIFEST),
                _line_of(root / MANIFEST, name),
                3,
                f"{name}: this published version is missing; restore {shown} from version control",
            )
        )
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        problems.append(
            Problem(
                shown,
                1,
                1,
                "this published version was altered after publication (its sha256 no longer "
                f"matches {display_path(root / MANIFEST)}); restore it from version control and "
                "publish the edit as a new version in the product's changes",
            )
        )
        return None
    try:
        record = json.loads(data)
        return Snapshot(
            str(record["product"]),
            int(record["version"]),
            str(record["date"]),
            str(record["summary"]),
            bool(record["substantial"]),
            dict(record["content"]),
        )
    except (ValueError, KeyError, TypeError) as err:
        problems.append(Problem(shown, 1, 1, f"not a snapshot written by the portal: {err}"))
        return None


def _unrecorded(root: Path, manifest: Mapping[str, str]) -> Iterator[Problem]:
    """A snapshot the manifest does not know was not written by a build: refuse to trust it."""
    if not root.is_dir():
        return
    for path in sorted(root.glob("*/*.json")):
        name = f"{path.parent.name}/{path.name}"
        if name not in manifest:
            yield Problem(
                display_path(path),
                1,
                1,
                f"not recorded in {MANIFEST}: snapshots are written by the build only; "
                "delete this file (the build archives the current version itself)",
            )
        elif not _SNAPSHOT.match(path.name):
            yield Problem(display_path(path), 1, 1, "snapshot files are named v<N>.json")


def _check_products(
    catalog: Catalog, snapshots: Mapping[str, Mapping[int, Snapshot]]
) -> Iterator[Problem]:
    products_dir = catalog.root / "products"
    for product_id, versions in snapshots.items():
        product = catalog.products.get(product_id)
        if product is None:
            first = min(versions)
            yield Problem(
                display_path(products_dir / f"{product_id}.yaml"),
                1,
                1,
                f"{product_id}: version {first} of this product was published; keep its file "
                "(set status: withdrawn) so that its documentation stays readable",
            )
            continue
        changes = {c.version: (i, c) for i, c in enumerate(product.changes)}
        for number, snap in versions.items():
            if number not in changes:
                yield _problem_at(
                    products_dir / f"{product_id}.yaml",
                    ("changes",),
                    f"changes: version {number} was published on {snap.date}; it cannot be "
                    "removed from the history",
                )
                continue
            i, change = changes[number]
            if change.date.isoformat() != snap.date or change.substantial != snap.substantial:
                yield _problem_at(
                    products_dir / f"{product_id}.yaml",
                    ("changes", i),
                    f"changes[{i}]: version {number} was published on {snap.date} as "
                    f"{'substantial' if snap.substantial else 'not substantial'}; a published "
                    "version's date and substantial flag cannot change",
                )


def _drafts(
    catalog: Catalog, snapshots: Mapping[str, Mapping[int, Snapshot]]
) -> Iterator[tuple[str, Problem]]:
    """Products whose current documentation differs from the snapshot of their current version."""
    products_dir = catalog.root / "products"
    for product_id, versions in snapshots.items():
        product = catalog.products.get(product_id)
        current = product.changes[-1] if product is not None and product.changes else None
        if product is None or current is None or current.version not in versions:
            continue
        found = diff(versions[current.version].content, content_of(product))
        if found:
            dotted = ".".join(found[0].path)
            yield (
                product_id,
                _problem_at(
                    products_dir / f"{product_id}.yaml",
                    found[0].path,
                    f"{dotted}: differs from published version {current.version} "
                    f"({len(found)} field{'s' if len(found) != 1 else ''} changed); a published "
                    f"version never changes: add a change with version {current.version + 1} "
                    "that says what changed",
                ),
            )


def _problem_at(path: Path, loc: tuple[str | int, ...], message: str) -> Problem:
    """A problem at the YAML position of `loc`, read again only when there is one to report."""
    try:
        return read_document(path).problem(loc, message)
    except (YamlProblem, OSError):
        return Problem(display_path(path), 1, 1, message)


def _line_of(path: Path, text: str) -> int:
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if f'"{text}"' in line:
                return number
    except OSError:
        pass
    return 1


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so a crash never leaves half a snapshot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
