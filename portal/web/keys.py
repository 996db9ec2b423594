"""The public signing keys at `/.well-known/aiact-portal-keys.json`, current and retired.

Read from the instance's list on every request, so a `portal keys rotate` shows at once;
anyone may fetch it, and caches may keep it briefly.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from portal.proof.keys import public_keys_file, read_public_keys
from portal.web.context import signing_key_file

bp = Blueprint("keys", __name__)


@bp.get("/.well-known/aiact-portal-keys.json")
def show() -> Response:
    """Every public key the portal has signed with."""
    response = jsonify(read_public_keys(public_keys_file(signing_key_file())))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
