"""The public summary of training content of one model (Art. 53(1)(d)).

It follows the sections of the Commission's template of July 2025: 1. general information,
2. list of data sources, 3. data processing aspects. The provider and model identification of
section 1 come from the product itself (name, provider, versions, `based_on`), so they are not
typed twice. The whole summary is public: the site gives it its own page.
"""

from __future__ import annotations

import datetime as dt
from typing import Self

from pydantic import Field, model_validator

from portal.catalog.fields import ALL, Strict, Text, audience


class ContentGeneral(Strict):
    """Section 1.3: modalities, overall size and other characteristics of the training data."""

    modalities: list[Text] = Field(
        min_length=1, description="Modalities of the training data (e.g. text, image, audio)."
    )
    size: Text = Field(
        description="Overall size of the training data per modality, in the template's ranges "
        "(e.g. text: more than 10 trillion tokens; images: 1 to 10 billion)."
    )
    content_types: Text = Field(
        description="Types of content (e.g. web pages, books, code, scientific articles)."
    )
    languages: Text = Field(description="Languages of the data, with the main ones first.")
    cutoff: Text = Field(
        description="The latest date of data collection (e.g. March 2025). Say if the model "
        "keeps learning from new data after it is placed on the market."
    )
    other: Text | None = Field(None, description="Other characteristics worth knowing.")


class DataSource(Strict):
    """One kind of source of section 2: whether it was used, and what it was."""

    used: bool = Field(description="true if data of this kind was used for training.")
    description: Text | None = Field(
        None,
        description="What the data is and where it comes from, with the names of large datasets "
        "and where to find them; required when used is true.",
    )

    @model_validator(mode="after")
    def _described_when_used(self) -> Self:
        if self.used and self.description is None:
            raise ValueError("description: required when used is true")
        return self


class Crawler(Strict):
    """A crawler that collected training data (section 2.3)."""

    name: Text = Field(description="The crawler's name or user agent (e.g. LumenBot).")
    purpose: Text = Field(description="What the crawler collects data for.")
    behaviour: Text = Field(
        description="How it behaves: whether it honours robots.txt and other machine-readable "
        "reservations, and whether it avoids paywalled or login-protected content."
    )


class CrawledData(Strict):
    """Section 2.3: data crawled and scraped from online sources."""

    used: bool = Field(description="true if crawled or scraped data was used for training.")
    crawlers: list[Crawler] = Field(
        default_factory=list, description="Every crawler used, by the provider or on its behalf."
    )
    period_start: dt.date | None = Field(None, description="First day of collection.")
    period_end: dt.date | None = Field(None, description="Last day of collection.")
    content_description: Text | None = Field(
        None, description="The type of content and of online sources crawled."
    )
    top_domains: Text | None = Field(
        None,
        description="The most relevant domain names crawled, as the template asks (the top "
        "10 % by size of content), or where that list is published.",
    )

    @model_validator(mode="after")
    def _complete_when_used(self) -> Self:
        if not self.used:
            return self
        missing = [
            key
            for key in ("period_start", "period_end", "content_description", "top_domains")
            if getattr(self, key) is None
        ]
        if not self.crawlers:
            missing.insert(0, "crawlers")
        if missing:
            raise ValueError(f"{', '.join(missing)}: required when used is true")
        assert self.period_start is not None and self.period_end is not None
        if self.period_end < self.period_start:
            raise ValueError("period_end: is before period_start")
        return self


class Sources(Strict):
    """Section 2: the list of data sources, in the template's order."""

    public_datasets: DataSource = Field(description="2.1 Publicly available datasets.")
    licensed_datasets: DataSource = Field(
        description="2.2.1 Private datasets licensed from rightsholders."
    )
    other_private_datasets: DataSource = Field(
        description="2.2.2 Other private datasets obtained from third parties."
    )
    crawled: CrawledData = Field(description="2.3 Data crawled and scraped from online sources.")
    user_data: DataSource = Field(
        description="2.4 User data: data from users' interactions with the model or the "
        "provider's other services."
    )
    synthetic_data: DataSource = Field(
        description="2.5 Synthetic data, with the models that generated it."
    )
    other_sources: DataSource | None = Field(None, description="2.6 Other sources of data.")


class Processing(Strict):
    """Section 3: data processing aspects."""

    opt_out: Text = Field(
        description="3.1 How reservations of rights under the text and data mining exception "
        "(Art. 4(3) of Directive (EU) 2019/790) were respected before and during collection."
    )
    illegal_content: Text = Field(description="3.2 How illegal content was removed.")
    other: Text | None = Field(None, description="3.3 Other information (optional).")


class TrainingContentSummary(Strict):
    """The public summary of training content, in the sections of the Commission's template."""

    general: ContentGeneral = Field(
        description="Section 1: general information.", json_schema_extra=audience(*ALL)
    )
    sources: Sources = Field(
        description="Section 2: list of data sources.", json_schema_extra=audience(*ALL)
    )
    processing: Processing = Field(
        description="Section 3: data processing aspects.", json_schema_extra=audience(*ALL)
    )
