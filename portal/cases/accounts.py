"""Staff accounts: who may read cases (viewer), act on them (handler) and manage accounts (admin).

Passwords are hashed with argon2 (argon2-cffi's defaults, RFC 9106's second recommended set).
API tokens are 256 random bits, shown once and stored as a SHA-256 hash like the submitters'
access tokens: a random token has nothing to brute-force, so a fast hash is enough and every
API call stays cheap. Disabling an account refuses its sessions and its tokens at once, since
both are checked against `active` on every request. Every change is an audit event.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Boolean, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.cases import audit
from portal.cases.models import Base
from portal.cases.tokens import hash_token, new_token, token_matches

log = logging.getLogger(__name__)

ROLES = ("viewer", "handler", "admin")
# What each role may do; a role includes everything of the roles before it.
_RANK = {role: rank for rank, role in enumerate(ROLES)}
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
TOKEN_PREFIX = "staff_"

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash(parameters: tuple[int, int, int]) -> str:
    """Verified against when the email is unknown, so both failures take the same time."""
    return _hasher.hash("no account has this password")


class AccountError(ValueError):
    """A refused account change, in words an administrator can act on."""


class StaffUser(Base):
    """A member of the legal team (or an administrator) who signs in to the workspace."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    # Bumped when the password changes or the account is disabled: it is part of the session
    # identifier, so old sessions stop working.
    session_version: Mapped[int] = mapped_column(default=1)

    def may(self, role: str) -> bool:
        """Whether this account is active and holds `role` or a higher one."""
        return self.active and _RANK.get(self.role, -1) >= _RANK[role]


class StaffToken(Base):
    """An API token of a staff account; only its SHA-256 hash is kept."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


def normalise_email(email: str) -> str:
    """The stored form of an address; a malformed one is an `AccountError`."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise AccountError(f"{email!r} is not a valid email address") from None


def add_user(
    session: Session, email: str, role: str, password: str, *, actor: str, now: datetime
) -> StaffUser:
    """Create an account and commit; an existing address or a weak password is refused."""
    email = normalise_email(email)
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    _check_password(password)
    if find_user(session, email) is not None:
        raise AccountError(f"an account for {email} already exists")
    user = StaffUser(
        email=email,
        role=role,
        password_hash=_hasher.hash(password),
        active=True,
        created_at=now,
        session_version=1,
    )
    session.add(user)
    session.flush()
    _record(session, actor, "staff-added", now, {"email": email, "role": role})
    session.commit()
    log.info("Staff account %s added with role %s", user.id, role)
    return user


def disable_user(session: Session, email: str, *, actor: str, now: datetime) -> StaffUser:
    """Disable an account and commit: its sessions and tokens stop working at once."""
    user = _existing(session, email)
    if not user.active:
        raise AccountError(f"the account of {user.email} is already disabled")
    user.active = False
    user.disabled_at = now
    user.session_version += 1
    _record(session, actor, "staff-disabled", now, {"email": user.email})
    session.commit()
    log.info("Staff account %s disabled", user.id)
    return user


def issue_token(session: Session, email: str, *, actor: str, now: datetime) -> str:
    """Create an API token for an active account, commit, and return it (shown only once)."""
    user = _existing(session, email)
    if not user.active:
        raise AccountError(f"the account of {user.email} is disabled")
    token = TOKEN_PREFIX + new_token()
    row = StaffToken(user_id=user.id, token_hash=hash_token(token), created_at=now)
    session.add(row)
    session.flush()
    _record(session, actor, "staff-token-issued", now, {"email": user.email, "token_id": row.id})
    session.commit()
    log.info("API token %s issued to staff account %s", row.id, user.id)
    return token


def find_user(session: Session, email: str) -> StaffUser | None:
    """The account with this address (any state), or None."""
    try:
        email = normalise_email(email)
    except AccountError:
        return None
    return session.scalar(select(StaffUser).where(StaffUser.email == email))


def authenticate(session: Session, email: str, password: str) -> StaffUser | None:
    """The active account if `password` is its password, else None (same cost either way)."""
    user = find_user(session, email) if isinstance(email, str) else None
    stored = user.password_hash if user is not None else _dummy_hash(_parameters())
    ok: bool = False
    try:
        ok = isinstance(password, str) and _hasher.verify(stored, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        pass
    if user is None or not ok or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.commit()
    return user


def user_for_token(session: Session, token: str | None) -> StaffUser | None:
    """The active account owning API token `token`, or None."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        # Still spend a comparison, so a malformed token answers as fast as a wrong one.
        token_matches(token if isinstance(token, str) else None, None)
        return None
    row = session.scalar(select(StaffToken).where(StaffToken.token_hash == hash_token(token)))
    if row is None or not token_matches(token, row.token_hash):
        return None
    user = session.get(StaffUser, row.user_id)
    return user if user is not None and user.active else None


def list_users(session: Session) -> list[StaffUser]:
    """Every account, by address."""
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def handler_addresses(session: Session) -> list[str]:
    """The addresses of active accounts that act on cases (handlers and admins)."""
    rows = session.scalars(
        select(StaffUser.email)
        .where(StaffUser.active.is_(True), StaffUser.role.in_(("handler", "admin")))
        .order_by(StaffUser.email)
    )
    return list(rows)


def _parameters() -> tuple[int, int, int]:
    return (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism)


def _existing(session: Session, email: str) -> StaffUser:
    user = find_user(session, email)
    if user is None:
        raise AccountError(f"there is no account for {email}")
    return user


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters")


def _record(session: Session, actor: str, action: str, now: datetime, changes: Any) -> None:
    audit.record(session, actor=actor, action=action, at=now, changes=changes)
