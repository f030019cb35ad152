"""Wall time of a 1C NC91 charge to 4.5 V (2 um sphere): the default driver against the
FiPy reference.

    python benchmarks/bench_fipy_vs_default.py [--repeats 20] [--fipy-repeats 3]
                                               [--cells 100] [--fipy-steps-per-hour 720]

Default: median of `--repeats` runs after one warm-up run (the warm-up also loads the numba
kernels from their cache or compiles them). FiPy: median of `--fipy-repeats` runs with the
fixed step dt = 3600 s / steps_per_hour. Time per step is the run time over the accepted
steps (the default's rejected steps and event re-solves are included in its run time).
"""

from __future__ import annotations

import argparse
import statistics
import time

from chemomech.geometry import SphereMesh
from chemomech.materials import load_material
from chemomech.protocol import cc_charge
from chemomech.transport.fipy_reference import run_sphere_fipy
from chemomech.transport.sphere_transport import run_sphere

NOMINAL_CHARGE = 270.0 * 3600.0  # C/kg, 270 mAh/g = 100 % SoC


def timed_runs(run, repeats: int):
    """(median seconds per run, last solution) of `repeats` calls of run()."""
    seconds = []
    solution = None
    for _ in range(repeats):
        start = time.perf_counter()
        solution = run()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), solution


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed runs of the default")
    parser.add_argument("--fipy-repeats", type=int, default=3, help="timed runs of FiPy")
    parser.add_argument("--cells", type=int, default=100, help="radial cells")
    parser.add_argument("--fipy-steps-per-hour", type=int, default=720,
                        help="FiPy fixed steps per hour of 1C charge")
    args = parser.parse_args()

    material = load_material("nc91")
    mesh = SphereMesh(radius=2e-6, cells=args.cells)
    protocol = cc_charge(c_rate=1.0, v_max=4.5)

    run_sphere(material, mesh, protocol)  # warm-up (numba)
    default_time, default = timed_runs(lambda: run_sphere(material, mesh, protocol),
                                       args.repeats)
    fipy_time, fipy = timed_runs(
        lambda: run_sphere_fipy(material, mesh, protocol, steps_per_hour=args.fipy_steps_per_hour),
        args.fipy_repeats,
    )

    print(f"NC91, 1C to 4.5 V, R = 2 um, {args.cells} cells")
    print(f"{'solver':<28}{'runs':>6}{'steps':>8}{'s/run':>11}{'ms/step':>10}{'SoC cutoff':>12}")
    for label, runs, seconds, solution in (
        ("default (adaptive BE)", args.repeats, default_time, default),
        (f"FiPy ({args.fipy_steps_per_hour} steps/h)", args.fipy_repeats, fipy_time, fipy),
    ):
        steps = len(solution.time) - 1
        print(f"{label:<28}{runs:>6}{steps:>8}{seconds:>11.4f}{1e3 * seconds / steps:>10.3f}"
              f"{solution.charge_passed[-1] / NOMINAL_CHARGE:>12.5f}")
    print(f"FiPy / default time per run: {fipy_time / default_time:.0f}x")


if __name__ == "__main__":
    main()
