"""The catalog: the legal team's YAML description of every covered product, as validated data.

This package imports nothing else from `portal`, and nothing from Flask, MkDocs or
SQLAlchemy: the documentation site, the web app and the CLI all stand on it, so it must load
anywhere. Every problem in every file is collected, then raised once as `CatalogError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from pydantic import ValidationError

from portal.catalog.loader import Document, YamlProblem, display_path, iter_errors, read_document
from portal.catalog.models import Classification, Policy, Product, Status
from portal.catalog.problems import CatalogError, Problem
from portal.catalog.provider import Provider
from portal.catalog.rules import (
    PRODUCT_RULES,
    PRODUCT_WARNINGS,
    check_based_on,
    check_copyright_policy,
    check_ids,
)

__all__ = [
    "Catalog",
    "CatalogError",
    "Classification",
    "Policy",
    "Problem",
    "Product",
    "Provider",
    "Status",
    "load_catalog",
    "load_policy",
]

PRODUCTS_DIR = "products"
POLICY_FILE = "policies.yaml"
PROVIDER_FILE = "provider.yaml"


@dataclass(frozen=True)
class Catalog:
    """Every covered product, by id in file-name order, the deadline policy and the provider.

    `warnings` are what the legal team should look at although nothing is invalid, such as a
    high-risk AI system the provider's terms say it does not offer.
    """

    products: Mapping[str, Product]
    policy: Policy
    root: Path
    provider: Provider | None = None
    warnings: tuple[Problem, ...] = ()

    def get(self, product_id: str) -> Product | None:
        return self.products.get(product_id)


def load_catalog(root: Path | str) -> Catalog:
    """Load and check `root/products/*.yaml` and `root/policies.yaml`, or raise `CatalogError`."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no catalog folder at {display_path(root)}")
    problems: list[Problem] = []
    warnings: list[Problem] = []
    policy = _load_policy(root / POLICY_FILE, problems)
    provider, provider_doc = _load_provider(root / PROVIDER_FILE, problems)
    loaded: dict[str, tuple[Product, Document]] = {}
    stems: dict[str, str] = {}
    # Files that exist but failed to load still name a product: no "unknown id" noise for them.
    unloaded: set[str] = set()
    for path in sorted((root / PRODUCTS_DIR).glob("*.yaml")):
        try:
            doc = read_document(path)
        except YamlProblem as err:
            problems.append(err.problem)
            unloaded.add(path.stem)
            continue
        try:
            product = Product.model_validate(doc.data)
        except ValidationError as err:
            problems.extend(iter_errors(doc, err, Product))
            unloaded.update({path.stem, str(doc.data.get("id"))})
            continue
        loaded[doc.path] = (product, doc)
        stems[doc.path] = path.stem
        for rule in PRODUCT_RULES:
            problems.extend(rule(product, doc, policy))
        for rule in PRODUCT_WARNINGS:
            warnings.extend(rule(product, doc, policy))
    problems.extend(check_ids(loaded, stems))
    problems.extend(_check_unique(loaded))
    problems.extend(check_based_on(loaded, unloaded))
    if provider_doc is not None or not (root / PROVIDER_FILE).exists():
        problems.extend(
            check_copyright_policy(
                provider, provider_doc, root / PROVIDER_FILE, [p for p, _ in loaded.values()]
            )
        )
    if problems:
        raise CatalogError(problems)
    products = {p.id: p for p, _ in loaded.values()}
    return Catalog(MappingProxyType(products), policy, root, provider, tuple(sorted(warnings)))


def load_policy(path: Path | str) -> Policy:
    """Load `policies.yaml` alone (defaults when there is no file), or raise `CatalogError`."""
    problems: list[Problem] = []
    policy = _load_policy(Path(path), problems)
    if problems:
        raise CatalogError(problems)
    return policy


def _load_policy(path: Path, problems: list[Problem]) -> Policy:
    if not path.exists():
        return Policy()
    try:
        doc = read_document(path)
        return Policy.model_validate(doc.data)
    except YamlProblem as err:
        problems.append(err.problem)
    except ValidationError as err:
        problems.extend(iter_errors(doc, err, Policy))
    return Policy()


def _load_provider(path: Path, problems: list[Problem]) -> tuple[Provider | None, Document | None]:
    """`provider.yaml`, or (None, None) when there is none or it has problems of its own."""
    if not path.exists():
        return None, None
    try:
        doc = read_document(path)
        return Provider.model_validate(doc.data), doc
    except YamlProblem as err:
        problems.append(err.problem)
    except ValidationError as err:
        problems.extend(iter_errors(doc, err, Provider))
    return None, None


def _check_unique(loaded: Mapping[str, tuple[Product, Document]]) -> list[Problem]:
    """Two files may not claim one id (the URLs and references would clash)."""
    first: dict[str, str] = {}
    problems = []
    for product, doc in loaded.values():
        if product.id in first:
            problems.append(
                doc.problem(("id",), f"id: '{product.id}' is already used by {first[product.id]}")
            )
        else:
            first[product.id] = doc.path
    return problems
