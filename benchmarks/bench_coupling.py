"""Cost of the coupling physics in a voxel particle (targets: stress-assisted diffusion
below 3x the Fickian transport, slab-spacing diffusivity below 1.5x).

    python benchmarks/bench_coupling.py [--across 64] [--repeats 3] [--update-x 0.01]
                                        [--cases "baseline (Fickian),phase_separation"]

NC91 single crystal, sphere of radius 2 um with its c axis along z, `--across` voxels
across the diameter (64: voxel 62.5 nm), 1C charge to 4.5 V, transport only (run_voxels,
no snapshot mechanics), with what `chemomech run` uses for this crystal: the voxel solver
defaults (tolerance 1e-3, max_step_fraction 0.05) and, under each option, the material
tables re-fitted under it. After a warm-up on a small crystal (numba compilation), runs
the Fickian baseline, stress_assisted_diffusion alone, slab_spacing_diffusivity alone,
both, and phase_separation alone (target below 1.5x), or the `--cases` named, `--repeats` times each (interleaved), and prints per case the median wall time, its
ratio to the baseline's median, the time steps (accepted + rejected), Newton and
BiCGSTAB iterations, elastic solves, and the SoC at 4.5 V.
"""

from __future__ import annotations

import argparse
import statistics
import time

from chemomech.geometry.voxel import rotation_from_c_axis, single_crystal
from chemomech.protocol import cc_charge
from chemomech.simulation.spec import run_spec
from chemomech.transport.coupling import PhysicsOptions
from chemomech.transport.voxel_transport import run_voxels

RADIUS_UM = 2.0


def run_settings(physics: PhysicsOptions):
    """The material and solver settings `chemomech run` uses for this crystal with these
    options: the tables re-fitted under the options ([recalibrated] in models/nc91.toml) and
    the voxel solver defaults (config.SOLVER_DEFAULTS). The particle of this config is never
    built (the benchmark builds its own at `--across`); its voxel size changes neither."""
    switched = {name: True for name in physics.switched_on()}
    spec = run_spec({"material": "nc91",
                     "particle": {"geometry": "single-crystal", "shape": "sphere", "radius_um": RADIUS_UM,
                                  "voxel_nm": 100, "c_axis": [0.0, 0.0, 1.0]},
                     "protocol": {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5},
                     "physics": switched})
    return spec.material, spec.solver


def cases(update_x: float) -> dict:
    return {
        "baseline (Fickian)": PhysicsOptions(),
        "stress_assisted_diffusion": PhysicsOptions(stress_assisted_diffusion=True, stress_update_x=update_x),
        "slab_spacing_diffusivity": PhysicsOptions(slab_spacing_diffusivity=True, stress_update_x=update_x),
        "both": PhysicsOptions(stress_assisted_diffusion=True, slab_spacing_diffusivity=True,
                               stress_update_x=update_x),
        "phase_separation": PhysicsOptions(phase_separation=True),
    }


def timed(particle, physics) -> dict:
    material, solver = run_settings(physics)
    start = time.perf_counter()
    solution = run_voxels(material, particle, cc_charge(c_rate=1.0, v_max=4.5), solver=solver, physics=physics)
    return {
        "wall": time.perf_counter() - start,
        "steps": len(solution.time) - 1 + solution.rejected_steps,
        "newton": solution.newton_iterations,
        "linear": solution.linear_iterations,
        "solves": solution.stress_solves,
        "soc": solution.charge_passed[-1] / 3600.0 / material.capacity_nominal,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--across", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--update-x", type=float, default=PhysicsOptions().stress_update_x,
                        help="physics.stress_update_x of the coupled cases")
    parser.add_argument("--cases", default=None,
                        help="comma-separated case names to run (default: all; the baseline is always run)")
    args = parser.parse_args()
    chosen = cases(args.update_x)
    if args.cases:
        names = {"baseline (Fickian)"} | {name.strip() for name in args.cases.split(",")}
        chosen = {name: physics for name, physics in chosen.items() if name in names}

    solver = run_settings(PhysicsOptions())[1]  # the same for every case: printed with the table
    radius = RADIUS_UM * 1e-6
    particle = single_crystal("sphere", radius, 2.0 * radius / args.across, rotation_from_c_axis([0.0, 0.0, 1.0]))
    small = single_crystal("sphere", 0.4e-6, 0.1e-6, rotation_from_c_axis([0.0, 0.0, 1.0]))
    for physics in chosen.values():  # warm-up: numba compilation
        timed(small, physics)

    runs = {name: [] for name in chosen}
    for _ in range(args.repeats):
        for name, physics in chosen.items():
            runs[name].append(timed(particle, physics))
            print(f"  {name}: {runs[name][-1]['wall']:.1f} s", flush=True)

    n_voxels = int(particle.mask.sum())
    print(f"NC91 single crystal, R = {RADIUS_UM} um, {args.across} voxels across ({n_voxels} solid voxels), "
          f"c along z, 1C to 4.5 V, transport only; solver tolerance {solver.tolerance:g}, max_step_fraction "
          f"{solver.max_step_fraction:g}; stress_update_x = {args.update_x:g}; {args.repeats} repeats")
    base = statistics.median(run["wall"] for run in runs["baseline (Fickian)"])
    base_steps = runs["baseline (Fickian)"][0]["steps"]
    print(f"{'case':<27} {'median [s]':>10} {'ratio':>6} {'min [s]':>8} {'max [s]':>8} {'steps':>6} "
          f"{'x steps':>7} {'x /step':>7} {'Newton':>7} {'BiCGSTAB':>9} {'el.solves':>9} {'SoC':>7}")
    for name, values in runs.items():
        walls = [run["wall"] for run in values]
        first = values[0]
        median = statistics.median(walls)
        step_ratio = first["steps"] / base_steps
        print(f"{name:<27} {median:10.1f} {median / base:6.2f} {min(walls):8.1f} {max(walls):8.1f} "
              f"{first['steps']:6d} {step_ratio:7.2f} {median / base / step_ratio:7.2f} {first['newton']:7d} "
              f"{first['linear']:9d} {first['solves']:9d} {first['soc']:7.4f}")
    print("ratio = median wall / the Fickian median; x steps = time steps (accepted + rejected) / the Fickian's; "
          "x /step = ratio / x steps, the cost of one time step relative to a Fickian one. The coupled models "
          "charge further before 4.5 V (SoC column) and their collapse front sets smaller steps there.")


if __name__ == "__main__":
    main()
