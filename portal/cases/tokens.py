"""Access tokens: 256 random bits, shown once, stored as a SHA-256 hash, compared in constant time.

A token is as strong as a key, so a fast hash suffices (there is no low-entropy secret to
protect from guessing, unlike a password) and checking one costs microseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32
# Compared against when a reference is unknown, so both answers take the same time.
_DUMMY_HASH = hashlib.sha256(b"no case has this token").hexdigest()


def new_token() -> str:
    """A fresh URL-safe access token (43 characters, 256 random bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_matches(token: str | None, stored_hash: str | None) -> bool:
    """Whether `token` belongs to `stored_hash`, in constant time; None never matches."""
    candidate = hash_token(token or "")
    matches = hmac.compare_digest(candidate, stored_hash or _DUMMY_HASH)
    return matches and token is not None and stored_hash is not None
