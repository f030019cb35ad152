"""Speed of cycling: the study's protocol on the 1-D sphere, against PyBaMM.

    python benchmarks/bench_cycling.py [--repeats 5] [--no-pybamm]

chemomech: the 2 um NC91 sphere with 100 cells under runs/cycling.toml's protocol (3
formation cycles at C/10, then 100 cycles at 0.5C, 2.8-4.5 V; 103 cycles), timed
  solve:    chemomech.transport.sphere_transport.run_sphere (transport over the whole run)
  simulate: chemomech.simulate (solve + snapshots + stress + per-cycle figures + Dataset)
and the same with the damage of a single crystal (surface layer and lattice inactivation,
[degradation] of runs/cycle_life_sc.toml) with cycle jumping, and cycle by cycle:
  damage solve:           chemomech.degradation.cycle_jumping.run_cycle_life
  damage simulate:        chemomech.simulate of the cycling run with [degradation]
after one warm-up run (numba compilation, caches), median of `repeats` runs.

PyBaMM (the issue's yardstick, optional: pip install ".[bench]"): the SPM with particle
cracking and stress-driven loss of active material running 100 CC cycles at 0.5C with
IDAKLU (benchmarks/bench_cycling_pybamm.py says exactly what is run and timed).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the benchmarks folder

import chemomech as cm  # noqa: E402
from bench_sphere_1c import median_time  # noqa: E402
from chemomech.degradation.cycle_jumping import JumpOptions, run_cycle_life  # noqa: E402
from chemomech.degradation.parameters import degradation_parameters  # noqa: E402
from chemomech.degradation.sphere import MECHANISMS, SphereDamage  # noqa: E402
from chemomech.geometry import SphereMesh  # noqa: E402
from chemomech.protocol.from_config import experiment_of  # noqa: E402
from chemomech.transport.coupling import PhysicsOptions  # noqa: E402
from chemomech.transport.integrator import SolverOptions  # noqa: E402
from chemomech.transport.sphere_transport import run_sphere  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "runs" / "cycling.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-pybamm", action="store_true", help="time chemomech only")
    args = parser.parse_args()

    config = tomllib.loads(CONFIG.read_text())
    material = cm.load_material(config["material"])
    mesh = SphereMesh(config["particle"]["radius_um"] * 1e-6, config["particle"]["cells"])
    experiment = experiment_of(config["protocol"])

    def solve():
        return run_sphere(material, mesh, experiment)

    def pipeline():
        return cm.simulate(CONFIG)

    damaged_config = {**config, "degradation": {"mechanisms": list(MECHANISMS)}}

    def damage_solve(jumps=JumpOptions()):
        model = SphereDamage(material, mesh, degradation_parameters(material), MECHANISMS, 298.15, PhysicsOptions())
        x = [material.x_initial] * mesh.cells
        return run_cycle_life(model, x, experiment, SolverOptions(), material.capacity_nominal, jumps)

    def damage_pipeline():
        return cm.simulate(damaged_config)

    solution = solve()  # warm-up
    pipeline()
    damaged = damage_solve()
    every = damage_solve(JumpOptions(enabled=False))
    damage_pipeline()
    rows = len(solution.time) - 1
    print(f"runs/cycling.toml, NC91, R = 2 um, 100 cells: {experiment.n_cycles} cycles, {rows} time steps, "
          f"Li balance {solution.li_balance_error:.1e}")
    retention = lambda run: run.discharge_capacity[-1] / run.discharge_capacity[3]  # noqa: E731
    print(f"with damage: retention {retention(damaged):.4f} from {damaged.simulated.sum()} cycles simulated "
          f"(cycle by cycle: {retention(every):.4f})")
    print(f"{'what':<28} {'median [s]':>10} {'min [s]':>9} {'max [s]':>9}")
    for name, function in (("chemomech solve", solve), ("chemomech simulate", pipeline),
                           ("damage solve (jumping)", damage_solve),
                           ("damage solve (every cycle)", lambda: damage_solve(JumpOptions(enabled=False))),
                           ("damage simulate (jumping)", damage_pipeline)):
        med, low, high = median_time(function, args.repeats)
        print(f"{name:<28} {med:10.3f} {low:9.3f} {high:9.3f}")
    if args.no_pybamm:
        return
    from bench_cycling_pybamm import time_pybamm_cycles

    try:
        pybamm = time_pybamm_cycles(cycles=100, repeats=min(args.repeats, 3))
    except ImportError as exc:
        print(f"PyBaMM not timed: {exc}")
        return
    print(f"{'PyBaMM SPM+cracking+LAM solve':<28} {pybamm['median_s']:10.3f} {min(pybamm['times_s']):9.3f} "
          f"{max(pybamm['times_s']):9.3f}   ({pybamm['cycles_completed']} cycles, PyBaMM {pybamm['pybamm_version']}, "
          f"{pybamm['solver']})")
    if "build_and_solve_s" in pybamm:
        print(f"{'PyBaMM build + solve':<28} {pybamm['build_and_solve_s']:10.3f}")


if __name__ == "__main__":
    main()
