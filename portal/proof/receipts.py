"""Signed receipts: `{"payload": {...}, "kid": "...", "signature": "<base64url>"}`.

The signature is Ed25519 over the RFC 8785 canonical bytes of `payload`; `payload` carries
`content_sha256`, the hex SHA-256 of the canonical submission as accepted. Whoever holds the
receipt, the published keys and the submission can check all three without our database.
"""

from __future__ import annotations

from typing import Any

from portal.proof.canonical import canonical, sha256_hex
from portal.proof.keys import ProofError, Signer, verify_signature


def sign_receipt(signer: Signer, payload: dict[str, Any]) -> dict[str, Any]:
    """The signed receipt of `payload`."""
    return {"payload": payload, "kid": signer.kid, "signature": signer.sign(canonical(payload))}


def verify_receipt(
    receipt: Any, keys: dict[str, Any], content: Any = None, *, check_content: bool = False
) -> dict[str, Any]:
    """The payload if the receipt's signature holds (and, with `check_content`, `content`
    hashes to its `content_sha256`); ProofError with the reason otherwise."""
    if not isinstance(receipt, dict) or not {"payload", "kid", "signature"} <= set(receipt):
        raise ProofError("not a receipt: it needs payload, kid and signature")
    payload, kid, signature = receipt["payload"], receipt["kid"], receipt["signature"]
    if not isinstance(payload, dict) or not isinstance(kid, str) or not isinstance(signature, str):
        raise ProofError("not a receipt: payload must be an object, kid and signature text")
    try:
        data = canonical(payload)
    except (TypeError, ValueError) as err:
        raise ProofError(f"the payload cannot be canonicalized ({err})") from None
    verify_signature(keys, kid, signature, data)
    if check_content and sha256_hex(content) != payload.get("content_sha256"):
        raise ProofError("the content does not match the receipt's content_sha256")
    return payload
