"""JSON Schema of the catalog files, generated from the models for editors and publication."""

from __future__ import annotations

from typing import Any

from portal.catalog.models import Policy, Product


def product_schema() -> dict[str, Any]:
    """The JSON Schema of `catalog/products/<id>.yaml`, with each field's audience."""
    schema = Product.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Covered product"
    # YAML files start with a schema comment line; a `$schema` key is not part of the product.
    return schema


def policy_schema() -> dict[str, Any]:
    """The JSON Schema of `catalog/policies.yaml`."""
    schema = Policy.model_json_schema(mode="validation", by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Deadline policy"
    return schema
