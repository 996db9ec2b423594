"""The building blocks every catalog model shares: strict models, text types, audience tags.

They live apart from `models.py` so that the larger documents (the public summary of training
content, the provider file) can have modules of their own without importing each other.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

DP = "downstream-provider"
AIO = "ai-office"
NCA = "national-authority"
AUDIENCES = (DP, AIO, NCA)
ALL = (DP, AIO, NCA)
AUTHORITIES = (AIO, NCA)

# The audience of a field lives in its JSON Schema, so editors and the published schema show it.
AUDIENCE_KEY = "x-audience"
# Annex XII items that `gpai` and `gpai-systemic-risk` products must fill (Art. 53(1)(b)).
ANNEX_XII_KEY = "x-annex-xii"
# Annex XI, section 2 items that `gpai-systemic-risk` products must fill (Art. 55(1)(a)).
ANNEX_XI_KEY = "x-annex-xi"
# Art. 13(3) items: what the pages of an AI system show, in the Article's order.
ART_13_KEY = "x-art-13"

Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=64)
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
SpdxId = Annotated[str, StringConstraints(pattern=r"^(?:LicenseRef-)?[A-Za-z0-9][A-Za-z0-9.+-]*$")]
# A web address the public can open. Kept as text so snapshots and catalog.json hold it as written.
Url = Annotated[str, StringConstraints(pattern=r"^https://[^\s/]+\.[^\s]+$", max_length=2_000)]


def audience(
    *who: str,
    annex_xii: str | None = None,
    annex_xi: str | None = None,
    art_13: str | None = None,
) -> dict[str, Any]:
    """JSON Schema extras marking who may read a field, and the legal item it fills."""
    extra: dict[str, Any] = {AUDIENCE_KEY: list(who)}
    if annex_xii:
        extra[ANNEX_XII_KEY] = annex_xii
    if annex_xi:
        extra[ANNEX_XI_KEY] = annex_xi
    if art_13:
        extra[ART_13_KEY] = art_13
    return extra


class Strict(BaseModel):
    """Unknown keys are errors (a misspelt key must never be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=False)
