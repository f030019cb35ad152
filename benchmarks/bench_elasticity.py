"""Speed of the voxel elasticity solve on a single-crystal NC91 sphere (target: a 64-voxel
sphere to tolerance 1e-5 in well under 2 s on 2 cores; it runs ~20 times per simulation).

    python benchmarks/bench_elasticity.py [--repeats 5] [--skip-large]

Problem: NC91 hexagonal stiffness with the crystal c axis along z, a sphere of radius
32 voxels (64 across) in a 66^3 grid, voxel 50 nm, with a core-shell eigenstrain: the
delithiated shell has eps_c = -3 % and eps_a = -1 % (the H2 -> H3 collapse), the core 0,
joined by a smooth front at r_f (eps = shell value * (1 + tanh((r - r_f) / (0.05 R))) / 2).

Times, after one warm-up solve (numba compilation), the median of `repeats` solves of
  cold:  the state with the front at r_f = 0.70 R, from u = 0
  warm:  the same state, started from the solution with the front at 0.72 R (the previous
         snapshot of a charge: `initial=previous["displacement"]`)
and then one cold solve of the 128-across sphere (radius 64 voxels, 130^3 grid) with the
process's peak resident memory (resource.getrusage) before and after it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import numpy as np

import chemomech as cm
from chemomech.mechanics import solve_elasticity

TOLERANCE = 1e-5  # relative residual, as used for the lattice-strain snapshots
VOXEL = 50e-9  # m
SHELL_EPS_A = -0.01  # in-plane (a axis) eigenstrain of the delithiated shell
SHELL_EPS_C = -0.03  # out-of-plane (c axis) eigenstrain of the delithiated shell


def sphere_problem(radius: int, front: float) -> tuple[np.ndarray, np.ndarray]:
    """(eigenstrain (3, 3, n, n, n), mask) of a sphere of `radius` voxels in an
    (2 radius + 2)^3 grid with the core-shell front at r = front * radius."""
    n = 2 * radius + 2
    z, y, x = np.indices((n, n, n), dtype=float) + 0.5 - n / 2
    r = np.sqrt(x * x + y * y + z * z)
    shell = 0.5 * (1.0 + np.tanh((r - front * radius) / (0.05 * radius)))
    eigenstrain = np.zeros((3, 3, n, n, n))
    eigenstrain[0, 0] = eigenstrain[1, 1] = SHELL_EPS_A * shell  # a axes along x, y
    eigenstrain[2, 2] = SHELL_EPS_C * shell  # c axis along z
    return eigenstrain, r < radius


def timed(function, repeats: int) -> tuple[float, float, float, dict]:
    """(median, min, max) wall time [s] of function() over `repeats` calls, and the last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times), result


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far [MiB] (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-large", action="store_true", help="skip the 128-across sphere")
    args = parser.parse_args()

    stiffness = cm.load_material("nc91").stiffness_voigt()
    previous_state, mask = sphere_problem(32, front=0.72)
    state, _ = sphere_problem(32, front=0.70)
    previous = solve_elasticity(previous_state, stiffness, VOXEL, mask, tolerance=TOLERANCE)  # + warm-up

    def cold():
        return solve_elasticity(state, stiffness, VOXEL, mask, tolerance=TOLERANCE)

    def warm():
        return solve_elasticity(
            state, stiffness, VOXEL, mask, tolerance=TOLERANCE, initial=previous["displacement"]
        )

    print(f"NC91 sphere, c along z, voxel {VOXEL * 1e9:.0f} nm, tolerance {TOLERANCE:g}, "
          f"median of {args.repeats}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} (other processes slow the threaded kernels down)")
    print(f"{'case':<28} {'iterations':>10} {'median [s]':>11} {'min [s]':>8} {'max [s]':>8}")
    for name, function in (("64 across, cold", cold), ("64 across, warm start", warm)):
        med, low, high, result = timed(function, args.repeats)
        print(f"{name:<28} {result['iterations']:10d} {med:11.3f} {low:8.3f} {high:8.3f}")
    peak = np.nanmax(np.abs(result["stress"]))
    print(f"  max |sigma_ij| = {peak / 1e9:.2f} GPa, max |omega| = "
          f"{np.nanmax(np.abs(result['rotation'])) * 1e3:.2f} mrad")

    if not args.skip_large:
        large_state, large_mask = sphere_problem(64, front=0.70)
        before = peak_memory_mib()
        med, _, _, result = timed(
            lambda: solve_elasticity(large_state, stiffness, VOXEL, large_mask, tolerance=TOLERANCE), 1
        )
        after = peak_memory_mib()
        print(f"{'128 across (130^3), cold':<28} {result['iterations']:10d} {med:11.3f}")
        print(f"  peak resident memory: {before:.0f} MiB before, {after:.0f} MiB after the solve "
              f"(inputs: eigenstrain {large_state.nbytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
