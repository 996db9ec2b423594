"""Site fixtures: the sample site, built once per session, and a reader of built pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support import build_sample_site


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_site(tmp_path_factory)


@dataclass
class Html:
    """What the tests need from one built page: its elements with attributes, scripts and text."""

    elements: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    inline_scripts: list[str] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def with_class(self, name: str) -> list[dict[str, str]]:
        return [a for _, a in self.elements if name in a.get("class", "").split()]

    @property
    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.elements if "id" in a}


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.html = Html()
        self._script: dict[str, str] | None = None
        self._chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.html.elements.append((tag, values))
        if tag == "script":
            self._script = values

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            if "src" not in self._script and self._script.get("type") != "application/json":
                if data.strip():
                    self.html.inline_scripts.append(data)
            return
        self._chunks.append(data)

    def close(self) -> None:
        super().close()
        self.html.text = " ".join(" ".join(self._chunks).split())


def read_html(path: Path) -> Html:
    reader = _Reader()
    reader.feed(path.read_text(encoding="utf-8"))
    reader.close()
    return reader.html


@pytest.fixture(scope="session")
def html() -> Callable[[Path], Html]:
    """Parse a built page (tests take the reader as a fixture: conftest is not importable)."""
    return read_html
