"""Proof commands: `portal keys init|rotate`, `portal receipt verify`, `portal verify-site`.

They need neither the database nor the catalog: the key file is found as the app finds it
(`PORTAL_SIGNING_KEY_FILE`, the instance's `config.py`, else `instance/signing-key.pem`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from portal.cases.sealed import use_data_key
from portal.proof.keys import (
    ProofError,
    init_keys,
    key_file,
    public_keys_file,
    read_public_keys,
    rotate_keys,
)
from portal.proof.receipts import verify_receipt
from portal.proof.sealing import data_key_file, load_data_key
from portal.proof.site import verify_site as check_site
from portal.proof.sources import read_json


def _settings() -> tuple[Path, Any]:
    from flask import Flask

    # The same instance folder and settings as `create_app` reads.
    app = Flask("portal.web", instance_relative_config=True)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("PORTAL")
    return Path(app.instance_path), app.config


def signing_key_file() -> Path:
    """The instance's private key file, found as `create_app` finds it."""
    instance, config = _settings()
    return key_file(instance, config.get("SIGNING_KEY_FILE"))


def load_instance_data_key() -> None:
    """Load the instance's data key, as `create_app` does, for commands without the app."""
    instance, config = _settings()
    use_data_key(load_data_key(data_key_file(instance, config.get("DATA_KEY_FILE"))))


@click.group()
def keys() -> None:
    """The signing key of receipts and of the site's manifest."""


@keys.command("init")
def keys_init() -> None:
    """Create the signing key if there is none (the app also does on first start)."""
    path = signing_key_file()
    existed = path.exists()
    signer = init_keys(path, now=datetime.now(UTC))
    click.echo(f"{'kept' if existed else 'created'} key {signer.kid} in {path}")


@keys.command("rotate")
def keys_rotate() -> None:
    """Make a new current signing key; old public keys stay published, marked retired."""
    signer = rotate_keys(signing_key_file(), now=datetime.now(UTC))
    click.echo(f"new current key {signer.kid}")


@click.group()
def receipt() -> None:
    """Signed receipts."""


@receipt.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--keys", "keys_source", help="URL or file of the public keys [default: ours].")
@click.option(
    "--content",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The submission's JSON: check it hashes to the receipt's content_sha256.",
)
def receipt_verify(file: Path, keys_source: str | None, content: Path | None) -> None:
    """Check a receipt's signature (and with --content, what was submitted); exit 1 if not."""
    try:
        document = read_json(str(file))
        published = (
            read_json(keys_source)
            if keys_source
            else read_public_keys(public_keys_file(signing_key_file()))
        )
        if not isinstance(published, dict):
            raise ProofError("the keys are not a JSON object")
        submitted = read_json(str(content)) if content is not None else None
        payload = verify_receipt(document, published, submitted, check_content=content is not None)
    except ProofError as err:
        raise click.ClickException(f"invalid: {err}") from None
    click.echo(
        f"valid: {payload.get('reference')} received {payload.get('received_at')}"
        f" (key {document['kid']})"
    )


@click.command("verify-site")
@click.argument("site")
@click.option("--keys", "keys_source", help="URL or file of the public keys [default: the site's].")
def verify_site(site: str, keys_source: str | None) -> None:
    """Check a site's signed manifest and every page it lists (a URL or a built folder)."""
    try:
        published = read_json(keys_source) if keys_source else None
        manifest, differences = check_site(site, published)
    except ProofError as err:
        raise click.ClickException(f"invalid: {err}") from None
    for difference in differences:
        click.echo(difference, err=True)
    if differences:
        raise click.ClickException(f"{len(differences)} of the published pages differ")
    count = len(manifest.get("versions", []))
    click.echo(f"valid: {count} published versions (key {manifest.get('kid')})")


COMMANDS = (keys, receipt, verify_site)
