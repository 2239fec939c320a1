"""Runs the benchmarks in bench/ (all, or those named) and prints a table of figures for each."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys
from pathlib import Path

from bench.common import print_table


def _available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        info.name.removeprefix("bench_")
        for info in pkgutil.iter_modules([str(here)])
        if info.name.startswith("bench_")
    )


def main(argv: list[str]) -> int:
    names = argv or _available()
    unknown = set(names) - set(_available())
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: {_available()}")
        return 2
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        figures = asyncio.run(module.run())
        print_table(f"{name}: {module.__doc__.strip().splitlines()[0]}", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
