"""Command line:
    chemomech run CONFIG [--out DIR] [--set key=value ...] [--force] [-q | -qq | --quiet] [--allow-large]
    chemomech plot RUN [RUN ...] --out FIGURE            voltage vs SoC (cycling runs: per cycle)
    chemomech plot RUN --dqdv --out FIGURE                dQ/dV vs voltage per cycle, peaks labelled
    chemomech plot RUN RUN ... --out FIGURE               cycling runs: capacity retention vs cycle
    chemomech plot RUN --figure damage --out FIGURE       damage fields of a cycled particle
    chemomech slices RUN [RUN ...] --out FIGURE          mid-plane slices of voxel runs
    chemomech export RUN [--snapshot N] [--format vtu|xdmf] [--out FILE]
    chemomech xrd RUN ...        synthetic operando powder XRD (cli/xrd_command.py)
    chemomech sxdm RUN ...       synthetic SXDM maps (cli/sxdm_command.py)
    chemomech xanes RUN ...      synthetic TXM-XANES white-line maps (cli/xanes_command.py)
    chemomech compare RUN ...    simulated vs measured (cli/compare_command.py)
    chemomech plot SWEEP_DIR --out FIGURE   capacity vs C-rate / size of a sweep
    chemomech sweep SWEEP.toml ...          many runs on dask.distributed (cli/sweep_command.py)
    chemomech gitt RUN ... --out FIGURE     D vs SoC of GITT runs (cli/gitt_command.py)
    chemomech validate [--case NAME]        the model against the study and analytical cases

User mistakes (bad keys, values, files, an output path that cannot be written or that
--force may not replace, a run too large for the machine's memory) print one line
"chemomech: error: ..." and exit with status 2, leaving no output directory behind.
Ctrl-C prints one line and exits with status 130, leaving nothing behind.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from chemomech.cli import (
    compare_command,
    gitt_command,
    sweep_command,
    sxdm_command,
    validate_command,
    xanes_command,
    xrd_command,
)
from chemomech import __version__
from chemomech.errors import ChemomechError, interrupted_in_kernel

EXIT_USER_ERROR = 2
EXIT_OS_ERROR = 1
EXIT_INTERRUPTED = 130


def _run(args) -> int:
    if args.quiet == 0:  # "compiling kernels (first run only) ..." on stderr when numba compiles
        from chemomech.kernels_warmup import enable_compile_notice

        enable_compile_notice()
    # the imports below compile the 1-D kernels on first use (explicit signatures), before any progress bar
    from chemomech.io.rundir import check_output_directory, write_run_directory
    from chemomech.simulation.run import simulate, summary_of
    from chemomech.simulation.memory import GIB, available_memory, check_run_memory, describe_estimate
    from chemomech.simulation.spec import run_spec

    spec = run_spec(args.config, args.set)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    check_output_directory(out, args.force)
    estimate = check_run_memory(spec, args.allow_large)  # before anything is allocated
    if args.quiet == 0 and estimate["run"] > LARGE_RUN_BYTES:
        print(f"chemomech: estimated {describe_estimate(estimate, spec.geometry)}; "
              f"{available_memory() / GIB:.1f} GiB available", flush=True)
    ds = simulate(spec, progress=args.quiet == 0, allow_large=args.allow_large)
    summary = summary_of(ds)
    write_run_directory(out, spec.config, ds, summary, force=args.force)
    if args.quiet == 0:
        print(_run_line(ds.attrs["material"], summary, out, spec.config["protocol"]))
    elif args.quiet == 1:
        print(f"-> {out}")
    return 0


LARGE_RUN_BYTES = 1024.0 ** 3  # runs estimated above this print their estimate first


def _run_line(material: str, summary: dict, out: Path, protocol: dict | None = None) -> str:
    """The one-line report of a run: the end of a charge, the pulses of a GITT run (whose
    titration ends at a limit before the final rest), or the cycles of a cycling run."""
    tail = f"{summary['steps']} steps, {summary['wall_s']:.2f} s -> {out}"
    if "discharge_capacity_first_mAh_g" in summary:
        return (f"{material}: {summary['cycles']} cycles, discharge capacity {summary['discharge_capacity_first_mAh_g']:.1f} "
                f"-> {summary['discharge_capacity_last_mAh_g']:.1f} mAh/g (retention {summary['capacity_retention_last']:.3f}), "
                f"first-cycle coulombic efficiency {summary['coulombic_efficiency_first']:.3f}, "
                f"after {summary['time_end_s'] / 3600:.2f} h [{summary['end_reason']}], " + tail)
    if protocol is not None and protocol.get("kind") == "gitt" and "pulses" in summary:
        reason = summary["end_reason"]
        if reason == "v_max":
            reason = f"v_max = {protocol['v_max']:g} V"
        return (f"{material}: {summary['pulses']} pulses, titration ended at {reason}; final rest to "
                f"{summary['voltage_end']:.3f} V, SoC {summary['soc_end']:.3f} ({summary['capacity_mAh_g']:.1f} mAh/g) "
                f"after {summary['time_end_s'] / 3600:.3f} h, " + tail)
    return (f"{material}: SoC {summary['soc_end']:.3f} ({summary['capacity_mAh_g']:.1f} mAh/g) "
            f"at {summary['voltage_end']:.3f} V after {summary['time_end_s'] / 3600:.3f} h [{summary['end_reason']}], " + tail)


def _plot(args) -> int:
    import numpy as np

    sweeps = [run for run in args.runs if (Path(run) / "summary.nc").is_file()]
    if sweeps:  # a sweep directory: capacity vs each numeric axis (C-rate, radius)
        if len(args.runs) > 1:
            raise ChemomechError(f"{sweeps[0]!r} is a sweep directory; plot one sweep at a time (or run directories)")
        from chemomech.plotting.sweep import plot_sweep_directory

        print(f"wrote {plot_sweep_directory(sweeps[0], args.out)}")
        return 0

    from chemomech.io.results import open_run, run_label
    from chemomech.plotting.cycling import is_cycling_run, plot_cycling, plot_rate_test
    from chemomech.plotting.voltage import plot_voltage_vs_soc

    if args.dqdv or args.figure == "dqdv":  # differential capacity of one run
        if len(args.runs) > 1:
            raise ChemomechError("--dqdv draws one run at a time; give one run directory")
        from chemomech.plotting.dqdv import plot_dqdv

        print(f"wrote {plot_dqdv(open_run(args.runs[0]), args.out)}")
        return 0
    if args.figure == "damage":  # the damage fields of one cycled particle
        if len(args.runs) > 1:
            raise ChemomechError("--figure damage draws one run at a time; give one run directory")
        from chemomech.io.results import snapshot_index
        from chemomech.plotting.cycle_life import plot_damage

        ds = open_run(args.runs[0])
        snapshot_index(ds, args.snapshot, "--snapshot", repr(args.runs[0]))
        print(f"wrote {plot_damage(ds, args.out, snapshot=args.snapshot)}")
        return 0
    if args.figure == "retention" or (len(args.runs) > 1 and args.figure == "auto"
                                      and all(is_cycling_run(open_run(run)) for run in args.runs)):
        from chemomech.plotting.cycle_life import plot_retention

        from chemomech.plotting.cycle_life import retention_label

        runs = {}
        for run in args.runs:
            ds = open_run(run)
            runs[f"{retention_label(ds)} ({Path(run).name})"] = ds
        print(f"wrote {plot_retention(runs, args.out)}")
        return 0
    results = {}
    for run in args.runs:
        ds = open_run(run)
        if is_cycling_run(ds):  # voltage vs capacity per cycle, capacity and efficiency vs cycle
            if len(args.runs) > 1:
                raise ChemomechError(f"{run!r} is a cycling run and {args.runs[0]!r} is not; plot cycling runs "
                                     f"together (retention vs cycle) or one run at a time")
            rates = ds["cycle_discharge_c_rate"].values
            rates = np.unique(rates[np.isfinite(rates)])
            # a rate test steps the discharge through several rates (formation + ageing: two)
            rate_test = args.figure == "rate" or (args.figure == "auto" and rates.size >= 3)
            plot = plot_rate_test if rate_test else plot_cycling
            print(f"wrote {plot(ds, args.out)}")
            return 0
        label = run_label(ds)
        if label in results:  # two runs of the same material and rate: tell them apart
            label = f"{label} ({Path(run).name})"
        results[label] = ds
    path = plot_voltage_vs_soc(results, args.out)
    print(f"wrote {path}")
    return 0


def _slices(args) -> int:
    from chemomech.io.results import open_run, require_voxel_run, run_label, snapshot_index
    from chemomech.plotting.slices import plot_slices

    results = {}
    for run in args.runs:
        ds = open_run(run)
        require_voxel_run(ds, "slices need", repr(run))
        snapshot_index(ds, args.snapshot, "--snapshot", repr(run))
        label = run_label(ds)
        if label in results:  # two runs of the same material and rate: tell them apart
            label = f"{label} ({Path(run).name})"
        results[label] = ds
    path = plot_slices(results, args.out, snapshot=args.snapshot, plane=args.plane)
    print(f"wrote {path}")
    return 0


def _export(args) -> int:
    from chemomech.io.export import export_run

    path = export_run(args.run, snapshot=args.snapshot, file_format=args.format, out_path=args.out)
    print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chemomech",
        description="Lithium transport and lattice strain in cathode particles.",
    )
    parser.add_argument("--version", action="version", version=f"chemomech {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one simulation and write a run directory")
    run.add_argument("config", help="run configuration (TOML)")
    run.add_argument("--out", help="output directory (default runs/<config name>)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key, e.g. --set protocol.c_rate=0.1 (repeatable)")
    run.add_argument("--force", action="store_true", help="replace an existing run directory (or an empty directory); other folders are never deleted")
    run.add_argument("-q", dest="quiet", action="count", default=0,
                     help="quieter: -q no progress bar, and only the line '-> DIR' at the end; "
                          "-qq nothing (errors still print)")
    run.add_argument("--quiet", dest="quiet", action="store_const", const=2, help="print nothing (the same as -qq)")
    run.add_argument("--allow-large", action="store_true",
                     help="run even when the estimated memory exceeds what the machine has available")
    run.set_defaults(handler=_run)

    plot = sub.add_parser("plot", help="voltage vs SoC of run directories, or capacity vs C-rate/size of a sweep directory")
    plot.add_argument("runs", nargs="+", help="run directories, or one sweep directory (holds summary.nc)")
    plot.add_argument("--out", required=True, help="figure file (.png, .pdf, .svg)")
    plot.add_argument("--figure", default="auto", choices=("auto", "cycling", "rate", "dqdv", "retention", "damage"),
                      help="cycling runs: voltage-capacity per cycle and capacity/efficiency vs cycle (cycling), "
                           "or discharge curves and capacity vs C-rate (rate); auto: rate when the discharges "
                           "step through three or more C-rates; dqdv: as --dqdv; retention: capacity retention "
                           "vs cycle of several cycling runs (auto when several are given); damage: the damage "
                           "fields of one cycle-life run at --snapshot")
    plot.add_argument("--snapshot", type=int, default=-1,
                      help="--figure damage: the snapshot to draw (default -1, the last)")
    plot.add_argument("--dqdv", action="store_true",
                      help="differential capacity dQ/dV vs voltage of one run, per cycle, with the H1-M, M-H2 "
                           "and H2-H3 peaks labelled (chemomech.analysis.dqdv)")
    plot.set_defaults(handler=_plot)

    slices = sub.add_parser("slices", help="mid-plane slices of x_Li, d-spacing and lattice tilt of voxel runs")
    slices.add_argument("runs", nargs="+", help="voxel run directories (one figure row each)")
    slices.add_argument("--out", required=True, help="figure file (.png, .pdf, .svg)")
    slices.add_argument("--snapshot", type=int, default=-1, help="snapshot index (default -1, the last)")
    slices.add_argument("--plane", default="xz", choices=("xz", "xy", "yz"), help="mid-plane to show (default xz, contains the default c axis z)")
    slices.set_defaults(handler=_slices)

    export = sub.add_parser("export", help="write a voxel snapshot as VTU or XDMF (ParaView)")
    export.add_argument("run", help="voxel run directory")
    export.add_argument("--snapshot", type=int, default=None, help="snapshot index (default: the last)")
    export.add_argument("--format", default="vtu", choices=("vtu", "xdmf"), help="file format (default vtu)")
    export.add_argument("--out", help="output file (default RUN/snapshot_<k>.<format>)")
    export.set_defaults(handler=_export)

    # the measurement commands live in their own modules (arguments + handler each)
    for command in (xrd_command, sxdm_command, xanes_command, compare_command, sweep_command, gitt_command,
                    validate_command):
        command.add_parser(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line as one line, "chemomech: warning: ...", without the
    source line Python shows by default."""
    return f"chemomech: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status: 0 done, 2 a user mistake (one line
    "chemomech: error: ..."), 1 a file-system failure, 130 interrupted (Ctrl-C)."""
    args = build_parser().parse_args(argv)
    warnings.formatwarning = _one_line_warning
    try:
        return args.handler(args)
    except ChemomechError as exc:
        print(f"chemomech: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        print(f"chemomech: error: {exc.strerror or exc} ({exc.filename or 'file system'})", file=sys.stderr)
        return EXIT_OS_ERROR
    except KeyboardInterrupt:
        print(INTERRUPTED_LINE, file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemError as exc:
        if not interrupted_in_kernel(exc):
            raise
        print(INTERRUPTED_LINE, file=sys.stderr)
        return EXIT_INTERRUPTED


INTERRUPTED_LINE = "chemomech: interrupted; no output written"


if __name__ == "__main__":
    sys.exit(main())
