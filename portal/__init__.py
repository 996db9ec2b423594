"""aiact-portal: the catalog, the documentation site and the cases of an AI Act portal.

`portal.create_app` is imported lazily, so that `import portal.catalog` (the MkDocs plugin,
the CLI's catalog commands) never imports Flask.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from portal.web import create_app

        return create_app
    raise AttributeError(f"module 'portal' has no attribute {name!r}")
