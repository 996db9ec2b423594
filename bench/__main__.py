"""Run every benchmark module (`python -m bench`), or those named: `python -m bench catalog`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    available = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.name.startswith("_")
    )
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Run the benchmarks; each prints its figures."
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"among {', '.join(available)} (default: all)"
    )
    names = parser.parse_args(argv).names or available
    unknown = sorted(set(names) - set(available))
    if unknown:
        parser.error(f"no benchmark called {', '.join(unknown)}; there are {', '.join(available)}")
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}: {(module.__doc__ or '').strip().splitlines()[0]}")
        module.main()
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
