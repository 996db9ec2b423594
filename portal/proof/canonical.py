"""RFC 8785 JSON Canonicalization Scheme: the exact bytes that are hashed and signed.

The `rfc8785` package (Trail of Bits) implements the whole scheme, floats and UTF-16 key
order included. For what the portal signs (strings, integers, booleans, null, nested
objects and arrays, ASCII keys) its output equals
`json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()`,
which is why a verifier needs nothing but Python's standard library and `cryptography`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value."""
    return rfc8785.dumps(value)


def sha256_hex(value: Any) -> str:
    """Hex SHA-256 of a JSON value's canonical bytes (a receipt's `content_sha256`)."""
    return hashlib.sha256(canonical(value)).hexdigest()
