"""Speed-up of a sweep on 2 local Dask workers against 1 (issue 5 target: >= 1.7x).

    python benchmarks/bench_sweep.py [--repeats 3] [--cells 2000] [--tolerance 1e-6]

The sweep: 24 points of the 1-D sphere, 2 materials x 6 C-rates (C/10 ... 2C) x 2 radii
(1 and 2 um), 50 snapshots. With the default 100 cells and tolerance 2e-4 a point takes
~10 ms, and the per-task overhead of Dask (scheduling, pickling the result, a few ms)
would dominate; 2000 cells and a local error tolerance of 1e-6 make a point take ~0.3-0.6 s
(solve + writing its run directory), which is what the 1-D sweeps users run cost at fine
resolution (the voxel points of real sweeps take seconds to minutes, where the speed-up
only gets closer to the worker count).

Times, for 1 and 2 workers (LocalCluster, one single-threaded process per worker, the
workers warmed up first - imports and numba caches - so that the cluster's start-up is not
counted), the median over `repeats` of chemomech.sweep.run_sweep into a fresh directory:
all 24 points simulated and written, summary.nc written. Then once each, end to end,
run_sweep(workers=N) including the start and stop of its own cluster. The serial
per-point time is measured in this process for reference.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import chemomech as cm
from chemomech.sweep import load_sweep, run_point, run_sweep
from chemomech.sweep.run_points import LOCAL_SCHEDULER_HTTP


def sweep_spec(cells: int, tolerance: float) -> dict:
    return {
        "base": {"material": "nc91",
                 "particle": {"geometry": "sphere-1d", "radius_um": 2.0, "cells": cells},
                 "protocol": {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5},
                 "output": {"snapshots": 50},
                 "solver": {"tolerance": tolerance}},
        "axes": {"material": ["nc91", "nm91"],
                 "protocol.c_rate": [0.1, 0.2, 0.33, 0.5, 1, 2],
                 "particle.radius_um": [1.0, 2.0]},
    }


def _warm_up() -> None:
    """Imports and numba caches on a worker (a tiny run)."""
    cm.simulate({"material": "nc91", "particle": {"geometry": "sphere-1d", "radius_um": 1.0, "cells": 20},
                 "output": {"snapshots": 3}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--tolerance", type=float, default=1e-6)
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    spec = sweep_spec(args.cells, args.tolerance)
    sweep = load_sweep(spec)
    scratch = Path(tempfile.mkdtemp(prefix="bench_sweep."))

    _warm_up()
    serial = []
    for point in sweep.points:  # the task a worker runs, here in this process
        start = time.perf_counter()
        assert run_point(str(scratch / "serial" / point.name), point.config, point.config_hash)["ok"]
        serial.append(time.perf_counter() - start)
    print(f"{len(sweep.points)} points, {args.cells} cells, tolerance {args.tolerance:g}: one point in this "
          f"process {statistics.mean(serial):.3f} s on average ({min(serial):.3f}-{max(serial):.3f}), "
          f"{sum(serial):.2f} s in all")

    medians = {}
    for workers in (1, 2):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR,
                               scheduler_kwargs=LOCAL_SCHEDULER_HTTP)
        client = Client(cluster)
        try:
            client.run(_warm_up)
            times = []
            for repeat in range(args.repeats):
                start = time.perf_counter()
                ds = run_sweep(spec, scratch / f"w{workers}-{repeat}", client=client, progress=False)
                times.append(time.perf_counter() - start)
                assert ds.attrs["points_run"] == len(sweep.points) and (ds["status"] == "ok").all()
        finally:
            client.close()
            cluster.close()
        medians[workers] = statistics.median(times)
        print(f"{workers} worker{'s' if workers > 1 else ' '}: median {medians[workers]:.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"speed-up 2 vs 1 workers: {medians[1] / medians[2]:.2f}x (target >= 1.7x)")

    end_to_end = {}
    for workers in (1, 2):
        start = time.perf_counter()
        run_sweep(spec, scratch / f"e2e-w{workers}", workers=workers, progress=False)
        end_to_end[workers] = time.perf_counter() - start
    print(f"end to end with cluster start-up: 1 worker {end_to_end[1]:.2f} s, 2 workers {end_to_end[2]:.2f} s, "
          f"speed-up {end_to_end[1] / end_to_end[2]:.2f}x")
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
