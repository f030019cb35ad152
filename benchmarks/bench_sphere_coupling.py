"""Speed of the coupling options in the 1-D sphere: a 1C charge to 4.5 V of the 2 um
sphere with 100 cells, NC91 and NM91, Fickian and with each [physics] option alone and all
three, each with the tables re-fitted under it (as a run uses them).

    python benchmarks/bench_sphere_coupling.py [--repeats 20]

Median wall time of run_sphere after one warm-up run (numba compilation), steps taken,
steps rejected and SoC at 4.5 V.
"""

from __future__ import annotations

import argparse
import statistics
import time

from chemomech.geometry import SphereMesh
from chemomech.materials.material import read_material_file, build_material
from chemomech.materials.recalibration import apply_recalibration
from chemomech.protocol import cc_charge
from chemomech.transport.coupling import PhysicsOptions
from chemomech.transport.sphere_transport import run_sphere

CASES = {
    "Fickian": PhysicsOptions(),
    "stress": PhysicsOptions(stress_assisted_diffusion=True),
    "slab": PhysicsOptions(slab_spacing_diffusivity=True),
    "phase": PhysicsOptions(phase_separation=True),
    "all three": PhysicsOptions(stress_assisted_diffusion=True, slab_spacing_diffusivity=True, phase_separation=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    mesh = SphereMesh(2e-6, 100)
    protocol = cc_charge(c_rate=1.0, v_max=4.5)
    print(f"{'material':<8} {'options':<10} {'median [ms]':>12} {'steps':>6} {'rejected':>9} {'SoC':>7}")
    for key in ("nc91", "nm91"):
        for name, physics in CASES.items():
            raw, path = read_material_file(key)
            raw, _ = apply_recalibration(raw, physics.switched_on())
            material = build_material(raw, path.name)
            solution = run_sphere(material, mesh, protocol, physics=physics)  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                run_sphere(material, mesh, protocol, physics=physics)
                times.append(time.perf_counter() - start)
            soc = solution.charge_passed[-1] / 3600.0 / material.capacity_nominal
            print(f"{material.name:<8} {name:<10} {1e3 * statistics.median(times):12.1f} "
                  f"{len(solution.time) - 1:6d} {solution.history.rejected_steps:9d} {soc:7.4f}")


if __name__ == "__main__":
    main()
