"""Load catalog YAML keeping the line and column of every key and value.

Nothing else in the portal reads raw YAML. The C composer gives nodes with positions at C
speed; we build plain Python values from them ourselves so that dates stay strings until
pydantic parses them, and a duplicate key is an error instead of a silent overwrite.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from portal.catalog.problems import Problem

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

Path_ = tuple[str | int, ...]
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_constructor = yaml.SafeLoader("")
_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$")


@dataclass
class Document:
    """A YAML file as plain values, with the 1-based position of each key and value."""

    path: str
    data: Any
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def position(self, loc: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
        """Where `loc` stands: its key (or value), else the nearest enclosing one that exists."""
        loc = tuple(loc)
        while loc:
            table = self.keys if key else self.values
            if loc in table:
                return table[loc]
            if loc in self.keys:
                return self.keys[loc]
            loc = loc[:-1]
            key = False
        return self.values.get((), (1, 1))

    def problem(self, loc: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        line, col = self.position(loc, key=key)
        return Problem(self.path, line, col, message)


class YamlProblem(Exception):
    """A file that is not valid YAML, or not a mapping of unique keys."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def display_path(path: Path) -> str:
    """The path as the person running the command will recognise it: relative when possible."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def read_document(path: Path, *, shown_as: str | None = None) -> Document:
    """Parse one YAML file into a `Document`, or raise `YamlProblem` with its position."""
    shown = shown_as or display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise YamlProblem(Problem(shown, 1, 1, f"not UTF-8 text ({err.reason})")) from None
    except OSError as err:
        raise YamlProblem(Problem(shown, 1, 1, f"cannot read the file: {err.strerror}")) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = err.problem or "invalid YAML"
        raise YamlProblem(Problem(shown, line, col, f"YAML syntax error: {what}")) from None
    except yaml.YAMLError as err:
        raise YamlProblem(Problem(shown, 1, 1, f"YAML syntax error: {err}")) from None
    doc = Document(shown, None)
    if node is None:
        raise YamlProblem(Problem(shown, 1, 1, "the file is empty; it must hold a mapping of keys"))
    if not isinstance(node, yaml.MappingNode):
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        raise YamlProblem(Problem(shown, line, col, "the file must hold a mapping of keys"))
    doc.data = _build(node, (), doc)
    return doc


def _build(node: yaml.Node, loc: Path_, doc: Document) -> Any:
    doc.values[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem(
                    doc.problem(loc, "a key must be a plain word, not a list or mapping")
                )
            key = key_node.value
            position = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlProblem(Problem(doc.path, *position, "merge keys (<<) are not supported"))
            if key in out:
                first = doc.keys[(*loc, key)][0]
                raise YamlProblem(
                    Problem(
                        doc.path, *position, f"duplicate key '{key}' (first given at line {first})"
                    )
                )
            doc.keys[(*loc, key)] = position
            out[key] = _build(value_node, (*loc, key), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), doc) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    """Numbers, booleans and nulls become Python values; everything else (dates too) stays text.

    A plain `3e25` or `4.0e24` is a number, as in YAML 1.2 and the editors that follow it
    (YAML 1.1 wants `4.0e+24`).
    """
    if node.tag in (_INT, _FLOAT, _BOOL, _NULL):
        return _constructor.construct_object(node, deep=True)
    if isinstance(node, yaml.ScalarNode) and not node.style and _FLOAT_12.match(node.value):
        return float(node.value)
    return node.value


def iter_errors(doc: Document, err: ValidationError, model: type[BaseModel]) -> Iterator[Problem]:
    """Turn pydantic's errors into problems at the right place, in words a lawyer can act on."""
    for error in err.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        dotted = _dotted(loc)
        if kind == "extra_forbidden":
            valid = _valid_keys(model, loc[:-1])
            near = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
            hint = (
                f"; did you mean '{near[0]}'?"
                if near
                else (f"; valid keys here: {', '.join(valid)}" if valid else "")
            )
            yield doc.problem(loc, f"{dotted}: unknown key '{loc[-1]}'{hint}", key=True)
        elif kind == "missing":
            yield doc.problem(loc[:-1], f"{dotted}: required key is missing")
        elif "[key]" in loc:
            i = loc.index("[key]")
            yield doc.problem(loc[:i], f"{_dotted(loc[:i])}: {_message(error)}", key=True)
        else:
            yield doc.problem(loc, f"{dotted}: {_message(error)}")


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


_REWRITES: Mapping[str, str] = {
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number (e.g. 3.2e24)",
    "float_parsing": "must be a number (e.g. 3.2e24)",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of keys",
    "model_type": "must be a mapping of keys",
    "model_attributes_type": "must be a mapping of keys",
    "date_type": "must be a date written YYYY-MM-DD",
    "date_parsing": "must be a date written YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a date written YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date written YYYY-MM-DD, without a time",
    "string_too_short": "must not be empty",
}


def _message(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}"
    if kind == "string_pattern_mismatch":
        return _pattern_message(str(ctx.get("pattern", "")))
    if kind in ("greater_than", "greater_than_equal"):
        return (
            "must be a positive number"
            if ctx.get("gt", ctx.get("ge")) in (0, 1)
            else (f"must be at least {ctx.get('ge', ctx.get('gt'))}")
        )
    if kind == "too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return _REWRITES.get(kind, str(error["msg"]).rstrip(".").lower())


def _pattern_message(pattern: str) -> str:
    if pattern.endswith(r"\.md$"):
        return "must be the name of a Markdown file beside it, such as copyright-policy.md"
    if "[a-z0-9]" in pattern:
        return "must use only lowercase letters, digits and single dashes (e.g. small-3)"
    if "[hdw]" in pattern:
        return "must be a whole number followed by h, d or w (e.g. 48h, 14d)"
    if pattern.endswith("y$"):
        return "must be a whole number of years followed by y (e.g. 5y)"
    if "https://" in pattern:
        return "must be a web address starting with https://"
    if "[a-z]+(?: [a-z]+)*" in pattern:
        return "must be a modality in lowercase words (e.g. text, image, audio)"
    if "LicenseRef" in pattern:
        return "must be an SPDX licence identifier (e.g. Apache-2.0) or LicenseRef-<name>"
    if "[A-Z]{2}" in pattern:
        return "must be a two-letter country code in capitals (e.g. FR)"
    return "has the wrong form"


def _valid_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys allowed in the mapping at `loc`, following the model's fields."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field_ = _field_by_key(current, str(part))
        if field_ is None:
            return []
        current = _model_in(field_.annotation)
        if current is None:
            return []
    return [f.alias or name for name, f in current.model_fields.items()]


def _field_by_key(model: type[BaseModel], key: str) -> Any:
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
