"""`chemomech gitt RUN [RUN ...] --out FIGURE`: Weppner-Huggins D vs SoC of GITT runs
(cm.analysis.gitt_diffusivity), printed as a table and drawn against the model's input D
(plotting/gitt.py)."""

from __future__ import annotations


def add_parser(sub) -> None:
    """Register the `gitt` subcommand on the argparse subparsers `sub`."""
    parser = sub.add_parser("gitt", help="diffusivity vs SoC from GITT runs (Weppner-Huggins)")
    parser.add_argument("runs", nargs="+", help="run directories of protocol.kind = \"gitt\" runs")
    parser.add_argument("--out", required=True, help="figure file (.png, .pdf, .svg)")
    parser.set_defaults(handler=_gitt)


def _gitt(args) -> int:
    from chemomech.analysis import gitt_diffusivity
    from chemomech.io.atomic import write_file_atomic
    from chemomech.io.results import open_run
    from chemomech.plotting.gitt import plot_gitt

    results = {}
    for run in args.runs:
        ds = open_run(run)
        label = ds.attrs.get("material", run)
        if label in results:
            label = f"{label} ({run})"
        analysis = gitt_diffusivity(ds)  # raises a one-line error for a non-GITT run
        results[label] = ds
        print(f"{label}: {analysis.sizes['pulse']} pulses")
        print(f"  {'SoC':>6} {'D GITT [m2/s]':>14} {'relaxed':>8}")
        for soc, d, relaxed in zip(analysis["soc"].values, analysis["diffusivity"].values,
                                   analysis["relaxed"].values):
            print(f"  {100 * soc:5.1f}% {d:14.3e} {'yes' if relaxed else 'no':>8}")
    path = write_file_atomic(args.out, lambda temporary: plot_gitt(results, temporary))
    print(f"wrote {path}")
    return 0
