"""Speed of the 3-D single-crystal run (issue targets: NC91, 1.6 um radius at 50 nm voxels,
64 across, 1C charge to 4.5 V with mechanics on 20 snapshots in under 60 s; 128 across in
under 10 minutes and 16 GiB; with --cycle, 40 across, one full C/2 cycle between 2.8 and
4.5 V with mechanics on 4 snapshots in under 30 s).

    python benchmarks/bench_single_crystal.py [--across 64] [--repeats 3]
    python benchmarks/bench_single_crystal.py --cycle --across 40

After a warm-up (numba compilation) on a small crystal, runs cm.simulate on the config of
runs/single_crystal.toml with the voxel size set for `--across` voxels across the
diameter, `--repeats` times, and prints the median wall time of the whole run, of the
transport solve and of the 20 elastic solves, the time steps and the time per step, and
the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import statistics
import time

import chemomech as cm
from chemomech.transport import voxel_transport

pipeline = importlib.import_module("chemomech.simulation.voxels")  # where run_voxels is called

RADIUS_UM = 1.6


CYCLE = {"kind": "experiment", "blocks": [{"repeat": 1, "steps": ["Charge at C/2 until 4.5 V", "Discharge at C/2 until 2.8 V"]}]}


def config(across: int, material: str = "nc91", cycle: bool = False) -> dict:
    return {
        "material": material,
        "particle": {"geometry": "single-crystal", "shape": "sphere", "radius_um": RADIUS_UM,
                     "voxel_nm": 2e3 * RADIUS_UM / across, "c_axis": [0.0, 0.0, 1.0]},
        "protocol": CYCLE if cycle else {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5},
        "output": {"snapshots": 4 if cycle else 20, "mechanics": True},
    }


def timed_run(cfg: dict) -> dict:
    """cm.simulate with the transport solve timed separately."""
    spent = {}
    charge = pipeline.run_voxels

    def timed_charge(*args, **kwargs):
        start = time.perf_counter()
        solution = charge(*args, **kwargs)
        spent["transport"] = time.perf_counter() - start
        return solution

    pipeline.run_voxels = timed_charge
    try:
        start = time.perf_counter()
        ds = cm.simulate(cfg)
        spent["total"] = time.perf_counter() - start
    finally:
        pipeline.run_voxels = charge
    spent["rest"] = spent["total"] - spent["transport"]
    spent["steps"] = ds.attrs["steps"] + ds.attrs["rejected_steps"]
    spent["soc_end"] = ds.attrs["soc_end"]
    spent["snapshots"] = ds.sizes["snapshot"]
    spent["what"] = ("one C/2 cycle 4.5-2.8 V (discharge capacity "
                     f"{ds.attrs.get('discharge_capacity_first_mAh_g', float('nan')):.1f} mAh/g)"
                     if "cycle" in ds.dims else "1C to 4.5 V")
    spent["voxels"] = ds.attrs["voxels"]
    spent["mechanics_iterations"] = ds.attrs["mechanics_iterations"]
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--across", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cycle", action="store_true", help="one C/2 charge-discharge cycle, 4 snapshots")
    args = parser.parse_args()

    cm.simulate(config(12, cycle=args.cycle))  # warm-up: numba compilation
    runs = [timed_run(config(args.across, cycle=args.cycle)) for _ in range(args.repeats)]
    first = runs[0]
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"NC91 single crystal, R = {RADIUS_UM} um, {args.across} voxels across "
          f"({first['voxels']} solid voxels), {first['what']}, mechanics on {first['snapshots']} snapshots: "
          f"SoC at the end {first['soc_end']:.4f}, {first['steps']} steps (incl. rejected and cutoff "
          f"location), {first['mechanics_iterations']} CG iterations in the elastic solves")
    print(f"{'what':<30} {'median [s]':>10} {'min [s]':>9} {'max [s]':>9}")
    for key, label in (("total", "cm.simulate"), ("transport", "transport (run_voxels)"),
                       ("rest", "mechanics + Dataset")):
        values = [run[key] for run in runs]
        print(f"{label:<30} {statistics.median(values):10.2f} {min(values):9.2f} {max(values):9.2f}")
    per_step = statistics.median(run["transport"] / run["steps"] for run in runs)
    print(f"transport per step: {1e3 * per_step:.0f} ms; Newton tolerance "
          f"{voxel_transport.NEWTON_TOL:g}, BiCGSTAB rel. tolerance {voxel_transport.LINEAR_REL_TOL:g}")
    print(f"peak resident memory: {peak_gib:.2f} GiB")


if __name__ == "__main__":
    main()
