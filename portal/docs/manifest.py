"""The signed publication manifest: which documentation version was published when.

`published/manifest.json` lists every archived version (`catalog/published/`) with its
product, version, page address (relative to the site's root), published date, the SHA-256
of its archived content (as the archive records it) and the SHA-256 of its built page;
`published/manifest.json.sig` is `{"kid", "alg", "signature"}`, Ed25519 over the manifest's
exact bytes. The public keys go beside them, at `.well-known/aiact-portal-keys.json`, so a
static copy of the site can be checked on its own (`portal verify-site`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portal.catalog.published import MANIFEST as ARCHIVE_MANIFEST
from portal.catalog.published import PUBLISHED_DIR, Archive
from portal.docs.render import version_uri
from portal.proof.keys import ALG, Signer
from portal.proof.site import KEYS_PATH, MANIFEST_PATH, SIGNATURE_PATH

log = logging.getLogger(__name__)


def manifest_entries(site_dir: Path, catalog_root: Path, archive: Archive) -> list[dict[str, Any]]:
    """One entry per archived version whose page the build wrote, by product then version."""
    recorded = json.loads((catalog_root / PUBLISHED_DIR / ARCHIVE_MANIFEST).read_text())
    entries = []
    for product_id in sorted(archive.snapshots):
        for number, snap in sorted(archive.snapshots[product_id].items()):
            url = version_uri(product_id, number).removesuffix("index.md")
            page = site_dir / url / "index.html"
            if not page.is_file():
                continue
            entries.append(
                {
                    "product": product_id,
                    "version": number,
                    "url": url,
                    "published": snap.date,
                    # As catalog/published/manifest.json records it: the snapshot file's hash.
                    "content_sha256": recorded[f"{product_id}/v{number}.json"],
                    "page_sha256": hashlib.sha256(page.read_bytes()).hexdigest(),
                }
            )
    return entries


def write_manifest(
    site_dir: Path,
    catalog_root: Path,
    archive: Archive,
    signer: Signer,
    keys_file: Path,
    *,
    now: datetime,
) -> Path:
    """Write the manifest, its signature and the public keys into a built site."""
    document = {
        "generated": now.astimezone(UTC).isoformat(timespec="seconds"),
        "kid": signer.kid,
        "versions": manifest_entries(site_dir, catalog_root, archive),
    }
    data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    manifest = site_dir / MANIFEST_PATH
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_bytes(data)
    signature = {"kid": signer.kid, "alg": ALG, "signature": signer.sign(data)}
    (site_dir / SIGNATURE_PATH).write_text(json.dumps(signature, indent=2) + "\n")
    (site_dir / KEYS_PATH).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(keys_file, site_dir / KEYS_PATH)
    log.info(
        "Signed the manifest of %d versions with key %s", len(document["versions"]), signer.kid
    )
    return manifest
