"""AES-256-GCM for what submitters write: the data key and sealed text.

The key is 32 random bytes in `instance/data-key` (mode 0600), or the file that
`PORTAL_DATA_KEY_FILE` names. Sealed text reads `enc:v1:<key id>:<base64url(nonce ||
ciphertext || tag)>`: the key id (the first 8 hex digits of the SHA-256 of the key) says
which key opens it, so a process may hold more than one; the 96-bit nonce is random per
value. Without the key, sealed content cannot be read by anyone, us included.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portal.proof.keys import ProofError, b64url, unb64url

DATA_KEY_FILE = "data-key"
PREFIX = "enc:v1:"
_NONCE = 12


@dataclass(frozen=True)
class DataKey:
    """One AES-256-GCM key and its id."""

    secret: bytes = field(repr=False)

    @property
    def id(self) -> str:
        return hashlib.sha256(self.secret).hexdigest()[:8]

    def seal(self, text: str) -> str:
        """The sealed form of `text`."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(self.secret).encrypt(nonce, text.encode("utf-8"), None)
        return f"{PREFIX}{self.id}:{b64url(nonce + sealed)}"

    def open(self, sealed: str) -> str:
        """The text of a value this key sealed; ProofError if it was altered."""
        data = unb64url(sealed.split(":", 3)[3])
        try:
            plain = AESGCM(self.secret).decrypt(data[:_NONCE], data[_NONCE:], None)
        except InvalidTag:
            raise ProofError("sealed content was altered or sealed with another key") from None
        return plain.decode("utf-8")


def is_sealed(value: object) -> bool:
    """Whether `value` is sealed text (anything else was stored before encryption)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def key_id_of(sealed: str) -> str:
    """The id of the key that sealed `sealed`."""
    return sealed[len(PREFIX) :].split(":", 1)[0]


def data_key_file(instance: Path, configured: str | os.PathLike[str] | None = None) -> Path:
    """Where the data key lives: the configured file, else `instance/data-key`."""
    return Path(configured) if configured else Path(instance) / DATA_KEY_FILE


def load_data_key(path: Path) -> DataKey:
    """The data key in `path`, created on first use (written whole, then linked into place,
    so two workers starting at once agree on one key)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    secret = path.read_bytes()
    if len(secret) != 32:
        raise ProofError(f"{path.name} must hold exactly 32 bytes (an AES-256 key)")
    return DataKey(secret)
