"""How long one verdict takes, over every claim of the checker's corpus (tests/corpus/checker.json).

    python benchmarks/checker_corpus.py               # median of 3 per claim, in one process
    python benchmarks/checker_corpus.py --json out.json

Each claim is checked once to build its model's derivation (as a notebook or a claims file would
have it), then timed (wall-clock, ``time.perf_counter``) as the median of ``--repeats`` checks,
each a whole verdict: the search of the catalogue of mistakes included. Target (issue 16): every
verdict under 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "checker.json"
TARGET_S = 0.1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    from symbolic.check.claims_file import read_claims, run_claim

    specs = read_claims(CORPUS)
    times = {}
    for spec in specs:
        run_claim(spec)
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            run_claim(spec)
            runs.append(time.perf_counter() - start)
        times[f"{spec.line}: {spec.claim[:60]} ({spec.against})"] = statistics.median(runs)
    values = sorted(times.values())
    under = sum(1 for v in values if v < TARGET_S)
    figures = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
               "claims": len(values), "median_s": statistics.median(values),
               "p90_s": values[int(0.9 * (len(values) - 1))], "max_s": values[-1],
               "under_target": under, "slowest": sorted(times.items(), key=lambda kv: -kv[1])[:5]}
    print(f"{len(values)} claims: median {figures['median_s'] * 1e3:.1f} ms, 90th percentile "
          f"{figures['p90_s'] * 1e3:.1f} ms, slowest {figures['max_s'] * 1e3:.1f} ms; "
          f"{under} of {len(values)} under {TARGET_S * 1e3:.0f} ms")
    for name, seconds in figures["slowest"]:
        print(f"    {seconds * 1e3:7.1f} ms  {name}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
