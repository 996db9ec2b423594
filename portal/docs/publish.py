"""Publish the site: check the catalog and its archive, render, build, and swap in on success.

`build_site()` runs the engine (`mkdocs build --strict`) in a child process into a temporary
folder beside the target, then swaps folders: a failed build leaves the previous site as it
was, and the web server never serves half a site. The engine runs as a command, not as a
library, so this module stays free of MkDocs like the rest of `portal.docs` but `plugin.py`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from portal.catalog import Catalog, Policy, load_catalog
from portal.catalog.published import Archive, load_archive
from portal.docs.manifest import write_manifest
from portal.proof.keys import init_keys, public_keys_file

log = logging.getLogger(__name__)


class BuildFailed(Exception):
    """The engine refused to build the site; its own messages are in `output`."""

    def __init__(self, output: str) -> None:
        self.output = output
        super().__init__(output)


@dataclass(frozen=True)
class Built:
    site_dir: Path
    pages: int


def prepare(catalog_dir: Path | str, *, seal: bool = True) -> tuple[Catalog, Archive]:
    """Load the catalog and check the archive of published versions, or raise `CatalogError`."""
    catalog = load_catalog(catalog_dir)
    return catalog, load_archive(catalog, seal=seal)


def today_in(policy: Policy) -> dt.date:
    """Today in the policy's time zone, which decides whether a withdrawal is still upcoming."""
    return dt.datetime.now(ZoneInfo(policy.timezone)).date()


def build_site(
    site_dir: Path, *, config_file: Path, catalog_dir: Path, signing_key: Path | None = None
) -> Built:
    """Build the strict site into a temporary folder, then swap it in for `site_dir`.

    With `signing_key` (`portal build` passes the instance's), the build also writes the
    signed manifest of published versions (`manifest.py`) before the swap.
    """
    catalog, archive = prepare(catalog_dir)  # the catalog's messages first, as `portal check`
    site_dir = site_dir.absolute()
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}-new-", dir=site_dir.parent))
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "mkdocs",
                "build",
                "--strict",
                "--quiet",
                "--config-file",
                str(config_file),
                "--site-dir",
                str(tmp),
            ],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "NO_MKDOCS_2_WARNING": "1",
                "PORTAL_CATALOG_DIR": str(Path(catalog_dir).absolute()),
            },
            check=False,
        )
        if result.returncode != 0:
            raise BuildFailed((result.stderr + result.stdout).strip())
        pages = sum(1 for _ in tmp.rglob("index.html"))
        if signing_key is not None:
            now = dt.datetime.now(dt.UTC)
            signer = init_keys(signing_key, now=now)
            keys = public_keys_file(signing_key)
            write_manifest(tmp, catalog.root, archive, signer, keys, now=now)
        _swap(tmp, site_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("Built %d pages into %s", pages, site_dir)
    return Built(site_dir, pages)


def _swap(new: Path, target: Path) -> None:
    """Put `new` in place of `target` with two renames; the old site is removed last."""
    if not target.exists():
        os.rename(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def plain_config(base_config: Path, docs_dir: Path, *, custom_dir: Path | None = None) -> str:
    """A MkDocs config for pages already rendered to disk (`portal render`): no portal plugin.

    It inherits everything else from `base_config` (theme, palettes, Markdown extensions,
    navigation), so the HTML matches the plugin's; any engine that reads `mkdocs.yml` can
    start from it.
    """
    base_config = base_config.absolute()
    custom = (custom_dir or base_config.parent / "overrides").absolute()
    return "\n".join(
        [
            f"INHERIT: {json.dumps(str(base_config))}",
            f"docs_dir: {json.dumps(str(docs_dir.absolute()))}",
            "theme:",
            f"  custom_dir: {json.dumps(str(custom))}",
            "plugins:",
            "  - search",
            "",
        ]
    )
