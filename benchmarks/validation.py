"""How close the performance model comes to published measurements, against issue 15's targets.

    python benchmarks/validation.py                  # the shipped measurements
    python benchmarks/validation.py my-points.json   # your own (in the same form)
    python benchmarks/validation.py --json results.json

Reports, on a measurements file:

(a) ``symbolic validate --engine auto``: each point predicted with the shipped profile of the
    engine that measured it; median |error| (target 15%) and worst factor (target 2x);
(b) ``symbolic validate``: the ideal roofline, for contrast;
(c) leave-one-out: each engine's points fitted as its shipped profile is (the recipe in
    ``symbolic/measurements/shipped.py``) with each point left out in turn and then predicted;
    median |error| over all points (target 10%);
(d) the time validate and calibrate take (wall-clock, in this process).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from symbolic.errors import SymbolicError
from symbolic.measurements.calibrate import calibrate, error_summary
from symbolic.measurements.points import SHIPPED, read_measurements, select
from symbolic.measurements.shipped import ENGINE_FITS
from symbolic.measurements.validate import AUTO, summaries, validate

TARGETS = {"median_abs_error": 0.15, "worst_factor": 2.0, "leave_one_out_median_abs_error": 0.10}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", default=str(SHIPPED))
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    points = read_measurements(args.file)

    start = time.perf_counter()
    engines = summaries(validate(points, {"engine": AUTO}))
    validate_s = time.perf_counter() - start
    ideal = summaries(validate(points))

    held_out, calibrate_s = [], 0.0
    for engine in ENGINE_FITS:
        try:
            chosen = select(points, list(engine.selection))
        except SymbolicError:     # no point of this engine in the file
            continue
        start = time.perf_counter()
        try:
            fit = calibrate(chosen, engine.fitted, per_hardware=engine.per_hardware_keys)
        except SymbolicError as exc:   # too few points of this engine to refit its profile
            print(f"{engine.name}: not refitted ({exc})")
            continue
        calibrate_s += time.perf_counter() - start
        held_out += fit.leave_one_out
    loo = error_summary(held_out)

    figures = {"points": len(points), "engine_profiles": engines, "ideal_roofline": ideal,
               "leave_one_out": loo, "validate_s": validate_s, "calibrate_with_leave_one_out_s": calibrate_s}
    rows = [("median |error|, engine profiles", engines["median_abs_error"], TARGETS["median_abs_error"]),
            ("worst factor, engine profiles", engines["worst_factor"], TARGETS["worst_factor"]),
            ("median |error|, leave-one-out", loo["median_abs_error"],
             TARGETS["leave_one_out_median_abs_error"])]
    print(f"{len(points)} points of {Path(args.file).name}")
    for name, value, target in rows:
        print(f"{name:36s} {value:8.3f}   target {target:5.2f}   {'met' if value <= target else 'NOT met'}")
    print(f"{'median |error|, ideal roofline':36s} {ideal['median_abs_error']:8.3f}")
    print(f"validate {validate_s:.1f} s; calibrate with leave-one-out, every engine {calibrate_s:.1f} s")
    print("by regime (engine profiles): " + "; ".join(
        f"{name} {row['median_abs_error']:.3f} (n {row['n']})" for name, row in engines["by_regime"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
