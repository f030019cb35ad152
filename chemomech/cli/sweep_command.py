"""`chemomech sweep SWEEP.toml [--workers N] [--scheduler ADDRESS] [--out DIR] [--quiet]`

Runs every point of a sweep file (chemomech/sweep/sweep_file.py) as an ordinary run
directory DIR/points/<name>/ on dask.distributed - a LocalCluster on this machine's cores,
or the running cluster at --scheduler - and writes DIR/summary.nc and DIR/sweep.toml.
Rerunning skips complete points. Exit status: 0 when every point is complete, 1 when some
failed (their errors are in DIR/points/<name>.error.json), 2 for a bad sweep file (nothing
runs), 130 on Ctrl-C (finished points are kept; rerun to resume).
"""

from __future__ import annotations

import sys
from pathlib import Path

EXIT_POINTS_FAILED = 1
EXIT_INTERRUPTED = 130


def add_parser(sub) -> None:
    """Register the `sweep` subcommand on the argparse subparsers `sub`."""
    parser = sub.add_parser(
        "sweep", help="run a parameter sweep (grid of runs) on Dask; resumable",
        description="Run every point of a sweep file as a run directory DIR/points/<name> on a "
                    "local Dask cluster (or --scheduler) and write DIR/summary.nc. Rerunning skips "
                    "points that are complete for the same configuration.")
    parser.add_argument("sweep", help="sweep file (TOML: base = run config, [axes] key = [values] or {start, stop, num})")
    parser.add_argument("--out", help="sweep directory (default runs/<sweep file name>)")
    parser.add_argument("--workers", type=int, default=None,
                        help="local worker processes (default: the number of cores)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                             "(DIR must be on a file system the workers share)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary line")
    parser.set_defaults(handler=_sweep)


def _sweep(args) -> int:
    import time

    from chemomech.sweep import count_complete, load_sweep, run_sweep
    from chemomech.sweep.run_points import check_execution

    started = time.perf_counter()
    check_execution(args.workers, args.scheduler)  # before the sweep file's points are resolved
    sweep = load_sweep(args.sweep)  # every point validated before anything runs
    out = Path(args.out) if args.out else Path("runs") / sweep.name
    try:
        ds = run_sweep(sweep, out, workers=args.workers, scheduler=args.scheduler, progress=not args.quiet)
    except KeyboardInterrupt:
        done = count_complete(sweep, out)
        print(f"chemomech: interrupted; {done} of {len(sweep.points)} points complete in {out / 'points'} "
              "(rerun to resume)", file=sys.stderr)
        return EXIT_INTERRUPTED
    total, failed = ds.attrs["points_total"], ds.attrs["points_failed"]
    if not args.quiet:
        print(f"{sweep.name}: {total} points ({' x '.join(map(str, sweep.shape))}): {ds.attrs['points_run'] - failed} run, "
              f"{ds.attrs['points_skipped']} skipped (complete), {failed} failed, "
              f"{time.perf_counter() - started:.1f} s")
    print(f"wrote {out / 'summary.nc'}")
    if failed:
        first = str(ds["error"].values[ds["status"].values == "failed"][0])
        print(f"chemomech: error: {failed} of {total} points failed (errors in {out / 'points'}/*.error.json; "
              f"first: {first})", file=sys.stderr)
        return EXIT_POINTS_FAILED
    return 0
