"""The legal team's commands: `portal staff`, `remind`, `audit verify`, `export-cases|report`.

Each command builds the app from its usual configuration (`PORTAL_*` variables, the instance
folder) to find the database, the catalog and the mail settings, then calls a library function.
An embedded SQLite database is migrated first, as `portal serve` does; PostgreSQL is migrated
with `portal db upgrade`. (`portal export` is the site's: a product's documentation.)
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.cases import accounts, actions, audit, dashboard, exports, reminders
from portal.cases.db import is_sqlite, upgrade
from portal.cases.models import AuditEvent


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _app() -> Flask:
    from portal.web import create_app

    app = create_app()
    if is_sqlite(str(app.config["DATABASE_URL"])):
        upgrade(app.extensions["portal.engine"])
    return app


@contextmanager
def _session(app: Flask) -> Iterator[Session]:
    with app.extensions["portal.sessions"]() as session:
        yield session
    app.extensions["portal.engine"].dispose()


def _now() -> datetime:
    return datetime.now(UTC)


@click.group()
def staff() -> None:
    """Manage the legal team's accounts."""


@staff.command("add")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(accounts.ROLES),
    required=True,
    help="viewer reads; handler acts on cases; admin also manages accounts.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of a prompt.",
)
def staff_add(email: str, role: str, password_stdin: bool) -> None:
    """Create an account for EMAIL with a password (at least 12 characters)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    app = _app()
    with _session(app) as session:
        try:
            user = accounts.add_user(session, email, role, password, actor=_actor(), now=_now())
        except accounts.AccountError as err:
            raise click.ClickException(str(err).capitalize() + ".") from None
        click.echo(f"Added {user.email} ({user.role}).")


@staff.command("disable")
@click.argument("email")
def staff_disable(email: str) -> None:
    """Disable the account of EMAIL: its sessions and API tokens stop working at once."""
    app = _app()
    with _session(app) as session:
        try:
            user = accounts.disable_user(session, email, actor=_actor(), now=_now())
        except accounts.AccountError as err:
            raise click.ClickException(str(err).capitalize() + ".") from None
        click.echo(f"Disabled {user.email}.")


@staff.command("token")
@click.argument("email")
def staff_token(email: str) -> None:
    """Print a new API token for EMAIL (shown only this once; only its hash is stored)."""
    app = _app()
    with _session(app) as session:
        try:
            token = accounts.issue_token(session, email, actor=_actor(), now=_now())
        except accounts.AccountError as err:
            raise click.ClickException(str(err).capitalize() + ".") from None
    click.echo(token)


@staff.command("list")
def staff_list() -> None:
    """List the accounts: email, role and state."""
    app = _app()
    with _session(app) as session:
        for user in accounts.list_users(session):
            state = "active" if user.active else "disabled"
            click.echo(f"{user.email}\t{user.role}\t{state}")


@click.command()
@click.option(
    "--no-send",
    is_flag=True,
    help="Only queue the mails in the outbox; the app's mail sender sends them later.",
)
def remind(no_send: bool) -> None:
    """Mail the handlers about deadlines due within 24 hours or overdue (run it from cron).

    Each deadline is reminded of once per threshold: running it again sends nothing new.
    """
    from portal.mail import mailer_from_config
    from portal.web.context import CATALOG

    app = _app()
    timezone = app.extensions[CATALOG].policy.timezone
    now = _now()
    with _session(app) as session:
        report = reminders.send_reminders(session, now=now, timezone=timezone)
    if report.reminders and not report.recipients:
        click.echo(
            f"{len(report.reminders)} reminders are due but no active handler can receive them.",
            err=True,
        )
        sys.exit(1)
    click.echo(
        f"{len(report.reminders)} new reminders queued for {len(report.recipients)} handlers."
    )
    if no_send:
        return
    mailer = mailer_from_config(app.extensions["portal.sessions"], app.config, clock=_now)
    sent, failed = mailer.send_due()
    app.extensions["portal.engine"].dispose()
    click.echo(f"{sent} mails sent" + (f", {failed} to retry later." if failed else "."))


@click.group("audit")
def audit_group() -> None:
    """Check the audit trail."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Recompute the audit chain; exit 1 naming the first broken event if it does not hold."""
    app = _app()
    with _session(app) as session:
        breaks = audit.verify_chain(session)
        count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    if breaks:
        first = breaks[0]
        click.echo(f"Audit trail broken at event {first.seq}: {first.reason}.", err=True)
        for other in breaks[1:]:
            click.echo(f"  then at event {other.seq}: {other.reason}.", err=True)
        sys.exit(1)
    click.echo(f"The audit trail is intact: {count} events.")


def _filter_options(function: Any) -> Any:
    for name, help_text in reversed(
        (
            ("kind", "incident or information-request"),
            ("status", "received, in-progress, ..."),
            ("product", "a product id"),
            ("category", "an incident category"),
        )
    ):
        function = click.option(f"--{name}", default=None, help=help_text)(function)
    return function


@click.command("export-cases")
@click.option(
    "--format", "fmt", type=click.Choice(("csv", "json")), default="csv", show_default=True
)
@_filter_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
def export_cases(fmt: str, output: Path | None, **filters: str | None) -> None:
    """Every case matching the filters (closed ones too), as CSV or JSON."""
    try:
        chosen = dashboard.Filters.read(filters)
    except dashboard.FilterError as err:
        raise click.BadParameter(err.message, param_hint=f"--{err.field}") from None
    app = _app()
    from portal.web.context import CATALOG

    policy = app.extensions[CATALOG].policy
    with _session(app) as session:
        cases = dashboard.all_cases(session, chosen)
        if fmt == "csv":
            text = exports.cases_csv(cases, now=_now(), timezone=policy.timezone, policy=policy)
        else:
            text = exports.cases_json(cases, now=_now(), policy=policy)
    _write(text, output)


@click.command("export-report")
@click.argument("reference")
@click.option("--format", "fmt", type=click.Choice(("md", "json")), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
def export_report(reference: str, fmt: str, output: Path | None) -> None:
    """The draft authority report of incident REFERENCE, in the template's field order."""
    app = _app()
    from portal.web.context import CATALOG

    catalog = app.extensions[CATALOG]
    with _session(app) as session:
        case = actions.find_case_for_staff(session, reference)
        if case is None:
            raise click.ClickException(f"No case has the reference {reference}.")
        if case.kind != "incident":
            raise click.ClickException(f"{case.reference} is not an incident.")
        draft = exports.report_draft(case, catalog, now=_now())
    if fmt == "json":
        text = json.dumps(draft, ensure_ascii=False, indent=2) + "\n"
    else:
        text = exports.report_markdown(draft, timezone=catalog.policy.timezone)
    _write(text, output)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Written to {output}.", err=True)


# `portal export` is the site's (a product's documentation); these export cases.
COMMANDS = (staff, remind, audit_group, export_cases, export_report)
