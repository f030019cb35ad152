"""Speed of a 1C charge of the 2 um NC91 sphere with 100 cells (issue target: < 0.1 s,
the time PyBaMM's IDAKLU solver takes for the same equations).

    python benchmarks/bench_sphere_1c.py [--repeats 50]

Times, after one warm-up run (numba compilation, caches), the median of repeated runs of
  solve:    chemomech.transport.sphere_transport.charge_sphere (the transport solve alone)
  simulate: chemomech.simulate (solve + snapshots + stress + Dataset assembly)
"""

from __future__ import annotations

import argparse
import statistics
import time

import chemomech as cm
from chemomech.geometry import SphereMesh
from chemomech.protocol import cc_charge
from chemomech.transport.sphere_transport import run_sphere

CONFIG = {
    "material": "nc91",
    "particle": {"geometry": "sphere-1d", "radius_um": 2.0, "cells": 100},
    "protocol": {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5},
    "output": {"snapshots": 20},
}


def median_time(function, repeats: int) -> tuple[float, float, float]:
    """(median, min, max) wall time of function() over `repeats` calls [s]."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    material = cm.load_material("nc91")
    mesh = SphereMesh(2e-6, 100)
    protocol = cc_charge(c_rate=1.0, v_max=4.5)

    def solve():
        return run_sphere(material, mesh, protocol)

    def pipeline():
        return cm.simulate(CONFIG)

    solution = solve()  # warm-up
    pipeline()
    steps = len(solution.time) - 1
    print(f"1C charge, NC91, R = 2 um, 100 cells: {steps} steps, SoC at 4.5 V = "
          f"{solution.charge_passed[-1] / 3600 / 270:.4f}")
    print(f"{'what':<10} {'median [ms]':>12} {'min [ms]':>10} {'max [ms]':>10} {'per step [us]':>14}")
    for name, function in (("solve", solve), ("simulate", pipeline)):
        med, low, high = median_time(function, args.repeats)
        print(f"{name:<10} {1e3 * med:12.2f} {1e3 * low:10.2f} {1e3 * high:10.2f} {1e6 * med / steps:14.1f}")


if __name__ == "__main__":
    main()
