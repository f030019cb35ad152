"""Speed of cycle life on voxel particles: the issue's two targets.

    python benchmarks/bench_cycle_life.py [--which sc,pc] [--repeats 1]

  SC: runs/cycle_life_sc.toml, NC91 single-crystal sphere R = 2 um, 100 nm voxels (40
      across), 103 cycles (3 at C/10, 100 at 0.5C) with the surface layer, lattice
      inactivation and cycle jumping; target under 10 min
  PC: runs/cycle_life_pc.toml, NC91 polycrystal R = 2 um, 0.4 um grains, 100 nm voxels,
      the same protocol with grain-boundary fatigue too; target under 30 min
Each is timed as chemomech.simulate of the file (transport, damage, the elastic solves of
the damage, snapshots with mechanics, the Dataset), after compiling the kernels once on a
small run. These runs take minutes, so the default is one run each (the median of
`repeats` when more are asked for); the figures printed with it say how many cycles were
simulated, the jumps, and the elastic solves.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import chemomech as cm

RUNS = Path(__file__).resolve().parents[1] / "runs"
CONFIGS = {"sc": RUNS / "cycle_life_sc.toml", "pc": RUNS / "cycle_life_pc.toml"}
TARGET_MIN = {"sc": 10.0, "pc": 30.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--which", default="sc,pc", help="comma-separated: sc, pc")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    warm = {"material": "nc91", "particle": {"geometry": "single-crystal", "radius_um": 0.3, "voxel_nm": 100.0},
            "protocol": {"kind": "experiment", "blocks": [{"repeat": 2, "steps": ["Charge at 1C until 4.5 V",
                                                                                  "Discharge at 1C until 2.8 V"]}]},
            "degradation": {"mechanisms": ["surface_layer", "lattice_inactivation"]}}
    cm.simulate(warm)  # compile the kernels
    for key in args.which.split(","):
        times, ds = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            ds = cm.simulate(CONFIGS[key])
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(f"{key.upper()} ({CONFIGS[key].name}): {median / 60:.1f} min (median of {len(times)}; target < "
              f"{TARGET_MIN[key]:g} min), voxels {ds.attrs['voxels']}, {ds.attrs['cycles_simulated']} of "
              f"{ds.sizes['cycle']} cycles simulated, jumps {ds.attrs['jumps_accepted']} accepted / "
              f"{ds.attrs['jumps_rejected']} rejected, retention {float(ds['capacity_retention'][-1]):.4f}")


if __name__ == "__main__":
    main()
