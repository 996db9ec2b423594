"""Benchmarks: each module prints figures measured side by side in one run, and their ratios."""
