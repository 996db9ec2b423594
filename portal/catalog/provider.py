"""`catalog/provider.yaml`: what the provider publishes once for all its models.

Today that is the copyright policy (Art. 53(1)(c)): a Markdown page kept beside the file,
which the site publishes at `/copyright-policy/`, or the address where the provider already
publishes it (the site's page then points there, so the address of the page stays stable).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from portal.catalog.fields import Strict, Text, Url

PageName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*\.md$")]


class CopyrightPolicy(Strict):
    """Where the copyright policy is: a page of the catalog, or a public address."""

    page: PageName | None = Field(
        None,
        description="A Markdown file beside provider.yaml (e.g. copyright-policy.md) that the "
        "site publishes at /copyright-policy/.",
    )
    url: Url | None = Field(
        None, description="The public address of the policy, if it is published elsewhere."
    )

    @model_validator(mode="after")
    def _one_place(self) -> Self:
        if (self.page is None) == (self.url is None):
            raise ValueError("give exactly one of page or url")
        return self


class Provider(Strict):
    """The provider's own file, `catalog/provider.yaml`."""

    name: Text = Field(description="The provider's name, as on the product files.")
    copyright_policy: CopyrightPolicy | None = Field(
        None,
        description="The policy to comply with Union copyright law, including the reservations "
        "of rights of Art. 4(3) of Directive (EU) 2019/790 (AI Act Art. 53(1)(c)). Required "
        "once the catalog has a general-purpose AI model.",
    )
