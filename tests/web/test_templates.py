"""Every web template compiles, and every template it includes or extends exists.

The site's templates (`templates/`) are all rendered by the sample site build in tests/docs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = [ROOT / "portal" / "web" / "templates"]
TEMPLATES = [
    (folder, p.relative_to(folder).as_posix())
    for folder in FOLDERS
    for p in sorted(folder.rglob("*"))
    if p.is_file()
]
REFERENCE = re.compile(r"""{%-?\s*(?:include|extends|import|from)\s+["']([^"']+)["']""")


@pytest.mark.parametrize(("folder", "name"), TEMPLATES, ids=[n for _, n in TEMPLATES])
def test_template_compiles(folder: Path, name: str) -> None:
    environment = Environment(loader=FileSystemLoader(folder), autoescape=True)
    template = environment.get_template(name)
    assert template.name == name
    for referenced in REFERENCE.findall((folder / name).read_text()):
        assert (folder / referenced).is_file(), f"{name} uses {referenced}, which does not exist"
