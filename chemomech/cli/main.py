"""Command line: `chemomech run CONFIG [--out DIR] [--set key=value ...] [--force]` and
`chemomech plot RUN [RUN ...] --out FIGURE`.

User mistakes (bad keys, values, files) print one line "chemomech: error: ..." and exit
with status 2, leaving no output directory behind.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from chemomech.errors import ChemomechError

EXIT_USER_ERROR = 2
EXIT_OS_ERROR = 1
EXIT_INTERRUPTED = 130


def _run(args) -> int:
    from chemomech.io.config import resolve_config
    from chemomech.io.rundir import check_output_directory, write_run_directory
    from chemomech.simulate import simulate, summary_of

    config = resolve_config(args.config, args.set)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    check_output_directory(out, args.force)
    ds = simulate(config, progress=not args.quiet)
    summary = summary_of(ds)
    write_run_directory(out, config, ds, summary, force=args.force)
    if not args.quiet:
        print(
            f"{ds.attrs['material']}: SoC {summary['soc_end']:.3f} ({summary['capacity_mAh_g']:.1f} mAh/g) "
            f"at {summary['voltage_end']:.3f} V after {summary['time_end_s'] / 3600:.3f} h "
            f"[{summary['end_reason']}], {summary['steps']} steps, {summary['wall_s']:.2f} s -> {out}"
        )
    return 0


def _plot(args) -> int:
    import xarray as xr

    from chemomech.plotting.voltage import plot_voltage_vs_soc

    results = {}
    for run in args.runs:
        result = Path(run) / "result.nc"
        if not result.is_file():
            raise ChemomechError(f"{run!r} is not a run directory (no result.nc inside)")
        with xr.open_dataset(result, engine="h5netcdf") as ds:
            ds = ds.load()
        c_rate = tomllib.loads(ds.attrs["config"])["protocol"]["c_rate"]
        label = f"{ds.attrs['material']} {_rate_label(c_rate)}"
        results[label] = ds
    path = plot_voltage_vs_soc(results, args.out)
    print(f"wrote {path}")
    return 0


def _rate_label(c_rate: float) -> str:
    return f"{c_rate:g}C" if c_rate >= 1 else f"C/{1 / c_rate:g}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chemomech",
        description="Lithium transport and lattice strain in cathode particles.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one simulation and write a run directory")
    run.add_argument("config", help="run configuration (TOML)")
    run.add_argument("--out", help="output directory (default runs/<config name>)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key, e.g. --set protocol.c_rate=0.1 (repeatable)")
    run.add_argument("--force", action="store_true", help="replace an existing output directory")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary line")
    run.set_defaults(handler=_run)

    plot = sub.add_parser("plot", help="voltage vs SoC of one or more run directories")
    plot.add_argument("runs", nargs="+", help="run directories")
    plot.add_argument("--out", required=True, help="figure file (.png, .pdf, .svg)")
    plot.set_defaults(handler=_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ChemomechError as exc:
        print(f"chemomech: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        print(f"chemomech: error: {exc.strerror or exc} ({exc.filename or 'file system'})", file=sys.stderr)
        return EXIT_OS_ERROR
    except KeyboardInterrupt:
        print("chemomech: interrupted; no output written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
