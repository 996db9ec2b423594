"""What a case's and a message's signed receipts say (`portal.proof.receipts` signs them).

A receipt states what we can be held to: the reference, the kind, when it arrived, the
hash of exactly what was accepted, and the deadlines it started (for an incident, when the
customer became aware, when its notice was due and whether it came on time). It names no
one and quotes nothing, so it can travel by mail and sit in clear with the case.
"""

from __future__ import annotations

from typing import Any

from portal.cases.models import Case, Message
from portal.cases.wording import utc_iso
from portal.proof.canonical import sha256_hex
from portal.proof.keys import Signer
from portal.proof.receipts import sign_receipt


def case_payload(case: Case) -> dict[str, Any]:
    """The payload of a case's receipt, from the case as it is about to be committed."""
    payload: dict[str, Any] = {
        "reference": case.reference,
        "kind": case.kind,
        "received_at": utc_iso(case.received_at),
        "content_sha256": sha256_hex(case.submission),
    }
    if case.kind == "incident":
        notification = case.deadline("incident-notification")
        aware = notification.trigger_at if notification is not None else case.provider_aware_at
        payload["aware_at"] = utc_iso(aware) if aware is not None else None
        payload["notification_due"] = utc_iso(notification.due_at) if notification else None
        payload["notified_on_time"] = (
            case.received_at <= notification.due_at if notification else None
        )
    else:
        response = case.deadline("information-response")
        payload["response_due"] = utc_iso(response.due_at) if response else None
    return payload


def message_payload(case: Case, message: Message) -> dict[str, Any]:
    """The payload of a follow-up message's receipt; its content is `{"body": ...}`."""
    return {
        "reference": case.reference,
        "kind": "message",
        "message": message.id,
        "received_at": utc_iso(message.created_at),
        "content_sha256": sha256_hex(message_content(message.body)),
    }


def message_content(body: str) -> dict[str, Any]:
    """A message's content as hashed: the JSON the API takes (`{"body": "..."}`)."""
    return {"body": body}


def sign_case(case: Case, signer: Signer) -> dict[str, Any]:
    """Sign the case's receipt and keep it on the case."""
    case.receipt = sign_receipt(signer, case_payload(case))
    return case.receipt


def sign_message(case: Case, message: Message, signer: Signer) -> dict[str, Any]:
    """Sign a message's receipt (its id must be known: flush first) and keep it on it."""
    message.receipt = sign_receipt(signer, message_payload(case, message))
    return message.receipt


def receipt_filename(reference: str, message: int | None = None) -> str:
    """The receipt's file name, as downloaded or attached."""
    suffix = f"-message-{message}" if message is not None else ""
    return f"{reference}{suffix}.receipt.json"
