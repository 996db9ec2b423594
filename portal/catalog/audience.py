"""Who may read what: the catalog seen by one audience, derived from each field's `x-audience`.

Every output of the portal (site pages, search index, `catalog.json`, the feed, exports) goes
through `view()`, so a field marked for the AI Office only cannot reach a downstream provider
by accident. A field without its own mark (the items of a `Change`) inherits its parent's.
"""

from __future__ import annotations

import copy
import logging
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from portal.catalog.models import AUDIENCE_KEY, AUDIENCES, DP, Product
from portal.catalog.schema import product_schema

log = logging.getLogger(__name__)

FieldPath = tuple[str, ...]


def field_audience(
    model: type[BaseModel], name: str, inherited: tuple[str, ...]
) -> tuple[str, ...]:
    """The audience of one field: its own `x-audience`, else the one it inherits."""
    found = model.model_fields.get(name) or model.model_computed_fields[name]
    extra = found.json_schema_extra
    if isinstance(extra, dict) and AUDIENCE_KEY in extra:
        return tuple(typing.cast(list[str], extra[AUDIENCE_KEY]))
    return inherited


def view(model: BaseModel, audience: str = DP) -> dict[str, Any]:
    """The model as JSON-ready data, keeping only the fields `audience` may read."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}; use one of {', '.join(AUDIENCES)}")
    return _view(model, audience, AUDIENCES)


def _view(model: BaseModel, audience: str, inherited: tuple[str, ...]) -> dict[str, Any]:
    """Typed fields first, then derived ones (such as the day a model's obligations apply)."""
    out: dict[str, Any] = {}
    cls = type(model)
    for name in [*cls.model_fields, *cls.model_computed_fields]:
        who = field_audience(cls, name, inherited)
        if audience not in who:
            continue
        out[name] = _value(getattr(model, name), audience, who)
    return out


def _value(value: Any, audience: str, inherited: tuple[str, ...]) -> Any:
    if isinstance(value, BaseModel):
        return _view(value, audience, inherited)
    if isinstance(value, list):
        return [_value(v, audience, inherited) for v in value]
    if isinstance(value, dict):
        return {k: _value(v, audience, inherited) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):  # an enum member
        return value.value
    return value


def hidden_fields(audience: str = DP, model: type[BaseModel] = Product) -> list[FieldPath]:
    """Paths of every leaf field that `audience` may not read (for tests and reviews)."""
    return [path for path, who in _leaves(model, AUDIENCES) if audience not in who]


def _leaves(
    model: type[BaseModel], inherited: tuple[str, ...]
) -> Iterator[tuple[FieldPath, tuple[str, ...]]]:
    for name in model.model_fields:
        who = field_audience(model, name, inherited)
        sub = _model_of(model.model_fields[name].annotation)
        if sub is None:
            yield (name,), who
        else:
            for path, sub_who in _leaves(sub, who):
                # A section hidden as a whole hides every item in it.
                yield (name, *path), tuple(a for a in sub_who if a in who)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside `X`, `X | None` or `list[X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def public_schema(audience: str = DP) -> dict[str, Any]:
    """The JSON Schema of one product as `view(product, audience)` gives it."""
    schema = copy.deepcopy(product_schema())
    # Derived fields are in every view but cannot be typed, so the editors' schema lacks them.
    derived = Product.model_json_schema(mode="serialization")["properties"]
    for name in Product.model_computed_fields:
        schema["properties"][name] = derived[name]
        schema.setdefault("required", []).append(name)
    defs: dict[str, Any] = schema.get("$defs", {})
    for node in [schema, *defs.values()]:
        props = node.get("properties")
        if not props:
            continue
        for name in [n for n, p in props.items() if audience not in p.get(AUDIENCE_KEY, AUDIENCES)]:
            del props[name]
            if name in node.get("required", []):
                node["required"].remove(name)
    used = _refs(schema, defs)
    schema["$defs"] = {name: d for name, d in defs.items() if name in used}
    return schema


def _refs(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    """Names of the `$defs` reachable from the top of `schema`."""
    seen: set[str] = set()
    todo: list[Any] = [{k: v for k, v in schema.items() if k != "$defs"}]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name not in seen:
                    seen.add(name)
                    todo.append(defs[name])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return seen
