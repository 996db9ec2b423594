"""Reading what a verifier is handed: a local file or an `https://` (or `http://`) address."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from portal.proof.keys import ProofError

TIMEOUT = 20.0


def read_bytes(source: str) -> bytes:
    """The bytes at a URL or in a file; ProofError naming the source if they cannot be read."""
    try:
        if source.startswith(("https://", "http://")):
            with urllib.request.urlopen(source, timeout=TIMEOUT) as response:  # noqa: S310
                data: bytes = response.read()
                return data
        return Path(source).read_bytes()
    except OSError as err:
        raise ProofError(f"cannot read {source}: {err}") from None


def read_json(source: str) -> Any:
    """The JSON value at a URL or in a file."""
    try:
        return json.loads(read_bytes(source))
    except ValueError:
        raise ProofError(f"{source} is not JSON") from None
