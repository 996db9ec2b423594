"""`Idempotency-Key`: a client retrying a submission gets the first receipt, not a second case.

A key is kept 24 hours per kind. The access token of a case filed with a key is derived from
the instance's secret, the key and the body's digest (HMAC-SHA256), so a replay can hand the
same token back without storing it: only its hash is stored, as for any case. Two requests
racing with one key meet at the table's unique constraint; the loser answers the winner's
receipt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.cases.models import IdempotencyKey

WINDOW = timedelta(hours=24)
MAX_LENGTH = 255


@dataclass(frozen=True)
class Idempotency:
    """What a submission filed under a key records, and the token it gets."""

    scope: str
    key: str
    body_sha256: str
    token: str


def body_digest(data: Any) -> str:
    """SHA-256 of the body as JSON with sorted keys: the same body, however it was spelt."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def valid_key(key: str) -> bool:
    """1 to 255 visible ASCII characters (a header value)."""
    return 0 < len(key) <= MAX_LENGTH and all(33 <= ord(c) <= 126 for c in key)


def for_request(secret: str, scope: str, key: str, data: Any) -> Idempotency:
    digest = body_digest(data)
    mac = hmac.new(secret.encode(), f"{scope}\n{key}\n{digest}".encode(), hashlib.sha256)
    token = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
    return Idempotency(scope, key, digest, token)


def find(session: Session, scope: str, key: str, *, now: datetime) -> IdempotencyKey | None:
    """The key's record if it was used in the last 24 hours."""
    return session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at > now - WINDOW,
        )
    )


def record(session: Session, idempotency: Idempotency, reference: str, *, now: datetime) -> None:
    """Within the submission's transaction: the key, replacing an expired use of it."""
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.scope == idempotency.scope,
            IdempotencyKey.key == idempotency.key,
            IdempotencyKey.created_at <= now - WINDOW,
        )
    )
    session.add(
        IdempotencyKey(
            scope=idempotency.scope,
            key=idempotency.key,
            body_sha256=idempotency.body_sha256,
            case_reference=reference,
            created_at=now,
        )
    )
