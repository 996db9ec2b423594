"""Proof: the signing keys, canonical JSON and signed receipts, and (later) the data key.

This package imports nothing else from `portal` and nothing from Flask, MkDocs or
SQLAlchemy, so the cases, the site build and the command line can all use it, and what it
signs can be checked with `cryptography` alone.
"""
