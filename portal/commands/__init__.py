"""Click commands of the `portal` CLI, one module per area; `portal.cli` gathers them."""
