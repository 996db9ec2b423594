"""The documentation site for downstream providers, generated from the catalog.

Only `plugin.py` imports MkDocs: it wires hooks and nothing else. Everything that decides what
a page says lives in modules with no MkDocs import (`render`, `legal`, `publish`), so moving to
another engine moves one file. Every page sees the catalog through `catalog.audience.view`.
"""
