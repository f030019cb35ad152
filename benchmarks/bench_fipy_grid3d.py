"""Time per backward-Euler step of a voxel particle: the default solver (numba kernels,
Newton + SSOR-preconditioned BiCGSTAB) against the FiPy Grid3D reference
(chemomech.transport.fipy_voxel_reference) with FiPy's preconditioned CG, on the same
grid, same step and same start.

    python benchmarks/bench_fipy_grid3d.py [--across 64] [--steps 4] [--dt 60]
                                           [--repeats 3] [--fipy-stock-jacobi] [--full-charge]

Case: NC91 sphere of radius 1.6 um, c axis along z (M diagonal, so FiPy's matrix is
symmetric and its rank-2 machinery is not needed), 1C, uniform x_initial at t = 0; the
voxel edge is 2 R / across (50 nm for --across 64, a 66^3 grid with the void layers).
FiPy: `--steps` steps of dt from the start, per-step wall time of each (sweeps until the
change of x < 1e-8; PCG + Jacobi to 1e-10 relative to |b|; --fipy-stock-jacobi uses
FiPy's own JacobiPreconditioner, the same preconditioner applied through a sparse LU
solve, slower), median. Default: the same `--steps` steps from the same start with
voxel_transport.VoxelStepper.step, after one warm-up run of them (numba), repeated
`--repeats` times with a fresh stepper; median over all timed steps (the default's
kernels are serial). The largest difference of the two final states is printed as a check that both solved
the same problem. --full-charge also times the default's complete adaptive 1C charge to
4.5 V (minutes at 64 across).

The CPU may be shared with other processes: timings can be inflated by contention.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from chemomech.constants import TEMPERATURE_DEFAULT
from chemomech.geometry.voxel import rotation_from_c_axis, single_crystal
from chemomech.materials import load_material
from chemomech.protocol import cc_charge
from chemomech.transport.fipy_voxel_reference import charge_voxels_fipy, default_solver
from chemomech.transport.voxel_transport import VoxelStepper, run_voxels

RADIUS = 1.6e-6  # m
NOMINAL_CHARGE = 270.0 * 3600.0  # C/kg, 270 mAh/g = 100 % SoC


def default_steps(material, particle, protocol, x_start, dt, steps):
    """(seconds per step, final state) of `steps` default steps from x_start under the
    current of the protocol's (first) constant-current step."""
    stepper = VoxelStepper(material, particle, TEMPERATURE_DEFAULT)
    # mean current density [A/m2]: specific current [A/kg] / (reacting area / mass)
    current = protocol.first_current_step().specific_current(material.capacity_nominal) / stepper.specific_charge
    x = x_start.copy()
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        x, ok, _ = stepper.step(x, dt, None, current)
        seconds.append(time.perf_counter() - start)
        if not ok:
            raise RuntimeError("the default step did not converge")
    return seconds, x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--across", type=int, default=64, help="voxels across the diameter")
    parser.add_argument("--steps", type=int, default=4, help="time steps timed per run")
    parser.add_argument("--dt", type=float, default=60.0, help="time step [s]")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the default")
    parser.add_argument("--fipy-stock-jacobi", action="store_true",
                        help="FiPy's own JacobiPreconditioner (spsolve per application)")
    parser.add_argument("--full-charge", action="store_true",
                        help="also time the default's full adaptive 1C charge")
    args = parser.parse_args()

    material = load_material("nc91")
    particle = single_crystal("sphere", RADIUS, 2.0 * RADIUS / args.across,
                              rotation_from_c_axis((0.0, 0.0, 1.0)))
    protocol = cc_charge(c_rate=1.0, v_max=4.5)
    n_solid = int(particle.mask.sum())
    print(f"NC91 sphere R = {RADIUS * 1e6:g} um, c along z, 1C, voxel "
          f"{particle.voxel_size * 1e9:g} nm: grid {'x'.join(map(str, particle.shape[::-1]))} "
          f"= {particle.grain.size} cells, {n_solid} solid; dt = {args.dt:g} s, "
          f"{args.steps} steps from uniform x")

    fipy = charge_voxels_fipy(material, particle, protocol, args.dt, max_steps=args.steps,
                              solver=default_solver(stock_jacobi=args.fipy_stock_jacobi))
    x_start = fipy.states[0].astype(float)
    default_steps(material, particle, protocol, x_start, args.dt, args.steps)  # warm-up
    seconds = []
    for _ in range(args.repeats):
        timed, x_default = default_steps(material, particle, protocol, x_start, args.dt, args.steps)
        seconds.extend(timed)
    default_step = statistics.median(seconds)
    print(f"default per step [s]: {' '.join(f'{s:.3f}' for s in seconds)}")

    fipy_step = statistics.median(fipy.step_seconds)
    print(f"FiPy solver: {fipy.solver}")
    print(f"FiPy per step [s]: {' '.join(f'{s:.2f}' for s in fipy.step_seconds)}; sweeps "
          f"{' '.join(map(str, fipy.sweeps))}; PCG iterations "
          f"{' '.join(map(str, fipy.linear_iterations))}")
    print(f"{'solver':<44}{'s/step (median)':>16}{'FiPy / this':>13}")
    print(f"{'FiPy Grid3D (PCG + Jacobi)':<44}{fipy_step:>16.3f}{1.0:>13.1f}")
    print(f"{'default (numba, Newton + BiCGSTAB)':<44}{default_step:>16.4f}{fipy_step / default_step:>13.1f}")
    print(f"max |x_FiPy - x_default| after {args.steps} steps: "
          f"{np.max(np.abs(fipy.states[-1] - x_default)):.2e}")

    if args.full_charge:
        start = time.perf_counter()
        solution = run_voxels(material, particle, protocol)
        seconds = time.perf_counter() - start
        steps = len(solution.time) - 1
        print(f"default full 1C charge to 4.5 V: {seconds:.1f} s, {steps} steps "
              f"({seconds / steps:.3f} s/step incl. rejected steps and event location), "
              f"SoC {solution.charge_passed[-1] / NOMINAL_CHARGE:.4f}")


if __name__ == "__main__":
    main()
