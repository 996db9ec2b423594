"""Checking a published site against its signed manifest, from a folder or an address.

Reads `published/manifest.json` and its `.sig`, checks the signature with the given keys
(by default the site's own `/.well-known/aiact-portal-keys.json`: pass `keys` fetched
earlier, or from elsewhere, not to take the site's word for its keys), then fetches every
listed page and compares its SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from portal.proof.keys import ProofError, verify_signature
from portal.proof.sources import read_bytes, read_json

MANIFEST_PATH = "published/manifest.json"
SIGNATURE_PATH = "published/manifest.json.sig"
KEYS_PATH = ".well-known/aiact-portal-keys.json"


def verify_site(base: str, keys: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The manifest and what differs from it (empty when every page matches); ProofError
    when the manifest itself cannot be trusted."""
    root = base.rstrip("/") + "/"
    data = read_bytes(root + MANIFEST_PATH)
    signature = read_json(root + SIGNATURE_PATH)
    if not isinstance(signature, dict) or not isinstance(signature.get("signature"), str):
        raise ProofError(f"{SIGNATURE_PATH} holds no signature")
    published = keys if keys is not None else read_json(root + KEYS_PATH)
    verify_signature(published, str(signature.get("kid")), signature["signature"], data)
    manifest: dict[str, Any] = json.loads(data)
    differences = []
    for entry in manifest.get("versions", []):
        address = root + entry["url"] + "index.html"
        label = f"{entry['product']} v{entry['version']} ({entry['url']})"
        try:
            digest = hashlib.sha256(read_bytes(address)).hexdigest()
        except ProofError:
            differences.append(f"{label}: missing")
            continue
        if digest != entry["page_sha256"]:
            differences.append(f"{label}: its page differs from the one published")
    return manifest, differences
