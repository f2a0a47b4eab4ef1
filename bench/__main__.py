"""Run every benchmark module and print one JSON line per measurement.

Each ``bench/bench_*.py`` module exposes ``main() -> Iterable[dict]``; every
dict it yields is printed as one JSON line, tagged with the module name.
``python -m bench plan`` runs only the modules whose name contains ``plan``.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path


def run(selected: list[str]) -> int:
    """Import and run the benchmark modules; return the process exit code."""
    here = Path(__file__).resolve().parent
    failures = 0
    for path in sorted(here.glob("bench_*.py")):
        name = path.stem
        if selected and not any(word in name for word in selected):
            continue
        try:
            module = importlib.import_module(f"bench.{name}")
            for measurement in module.main():
                print(json.dumps({"bench": name, **measurement}), flush=True)
        except Exception as error:  # one broken benchmark should not hide the others
            failures += 1
            print(json.dumps({"bench": name, "error": repr(error)}), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
