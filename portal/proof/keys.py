"""The instance's Ed25519 signing key and the list of every public key it has used.

The private key is one PEM file (`instance/signing-key.pem`, mode 0600, or the file that
`PORTAL_SIGNING_KEY_FILE` names); beside it, `<stem>.public.json` lists every public key,
current and retired, in the shape published at `/.well-known/aiact-portal-keys.json`.
Rotation replaces the private key and only retires the old public key: receipts signed
months ago must still verify, and an old private key kept around could only be stolen.
A key's id (`kid`) is the first 16 hex digits of the SHA-256 of its raw 32 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

KEY_FILE = "signing-key.pem"
ALG = "Ed25519"


class ProofError(Exception):
    """A signature, key or hash that does not check out; the message says which."""


def b64url(data: bytes) -> str:
    """Base64url without padding, as keys and signatures are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """The bytes of a base64url text, with or without padding."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as err:
        raise ProofError("not valid base64url") from err


def kid_of(raw_public: bytes) -> str:
    """A key's id: the first 16 hex digits of the SHA-256 of its raw public bytes."""
    return hashlib.sha256(raw_public).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """The current private key and its id."""

    key: Ed25519PrivateKey
    kid: str

    def sign(self, data: bytes) -> str:
        """The base64url Ed25519 signature of `data`."""
        return b64url(self.key.sign(data))


def key_file(instance: Path, configured: str | os.PathLike[str] | None = None) -> Path:
    """Where the private key lives: the configured file, else `instance/signing-key.pem`."""
    return Path(configured) if configured else Path(instance) / KEY_FILE


def public_keys_file(private_file: Path) -> Path:
    """The list of public keys kept beside the private key."""
    return private_file.with_name(private_file.stem + ".public.json")


def init_keys(private_file: Path, *, now: datetime) -> Signer:
    """The signer, creating the key on first use; its public key is always listed."""
    if not private_file.exists():
        private_file.parent.mkdir(parents=True, exist_ok=True)
        _create(private_file, _pem(Ed25519PrivateKey.generate()))
    signer = load_signer(private_file)
    document = read_public_keys(public_keys_file(private_file))
    if not any(entry["kid"] == signer.kid for entry in document["keys"]):
        document["keys"].append(_entry(signer, now))
        _replace(public_keys_file(private_file), _json(document), mode=0o644)
    return signer


def rotate_keys(private_file: Path, *, now: datetime) -> Signer:
    """Make a new current key; the old public key stays listed, marked retired."""
    init_keys(private_file, now=now)
    signer = Signer(key := Ed25519PrivateKey.generate(), _kid(key))
    document = read_public_keys(public_keys_file(private_file))
    for entry in document["keys"]:
        if entry["retired"] is None:
            entry["retired"] = _instant(now)
    document["keys"].append(_entry(signer, now))
    # The list first: a crash between the two writes leaves an unused key listed, never a
    # signing key whose public half is published nowhere.
    _replace(public_keys_file(private_file), _json(document), mode=0o644)
    _replace(private_file, _pem(key), mode=0o600)
    return signer


def load_signer(private_file: Path) -> Signer:
    """The signer from a PEM file (PKCS#8, unencrypted)."""
    key = serialization.load_pem_private_key(private_file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ProofError(f"{private_file.name} does not hold an Ed25519 private key")
    return Signer(key, _kid(key))


def read_public_keys(path: Path) -> dict[str, Any]:
    """The published keys document, or an empty one."""
    if not path.exists():
        return {"keys": []}
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def verify_signature(keys: dict[str, Any], kid: str, signature: str, data: bytes) -> None:
    """Check an Ed25519 signature with the listed key `kid`; raise ProofError if it fails."""
    entry = next((k for k in keys.get("keys", []) if k.get("kid") == kid), None)
    if entry is None:
        raise ProofError(f"unknown key {kid}")
    if entry.get("alg") != ALG:
        raise ProofError(f"key {kid} is not an {ALG} key")
    raw = unb64url(entry["public_key"])
    if kid_of(raw) != kid:
        raise ProofError(f"key {kid} does not match its id")
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(unb64url(signature), data)
    except (InvalidSignature, ValueError):
        raise ProofError("the signature does not match") from None


def _kid(key: Ed25519PrivateKey) -> str:
    return kid_of(_raw_public(key))


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _entry(signer: Signer, now: datetime) -> dict[str, Any]:
    return {
        "kid": signer.kid,
        "alg": ALG,
        "public_key": b64url(_raw_public(signer.key)),
        "created": _instant(now),
        "retired": None,
    }


def _instant(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds")


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _json(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _temporary(path: Path, data: bytes, mode: int) -> Path:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return temporary


def _create(path: Path, data: bytes) -> None:
    """Write a new secret file whole, then link it into place: two workers starting at once
    agree on one key."""
    temporary = _temporary(path, data, 0o600)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _replace(path: Path, data: bytes, *, mode: int) -> None:
    os.replace(_temporary(path, data, mode), path)
