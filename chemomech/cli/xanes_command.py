"""`chemomech xanes RUN [--snapshot N] [--voxel-nm 40] [--noise SIGMA] [--no-spectra]
[--seed S] [--out DIR] [--force]`: synthetic TXM-XANES white-line maps of a run, written
as DIR/xanes_<snapshot>.nc and DIR/xanes_<snapshot>.png (default DIR = RUN/xanes)."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    """Register the `xanes` subcommand on the argparse subparsers `sub`."""
    parser = sub.add_parser("xanes", help="synthetic TXM-XANES white-line maps of a run")
    parser.add_argument("run", help="run directory")
    parser.add_argument("--snapshot", type=int, default=-1, help="snapshot index (default -1, the last)")
    parser.add_argument("--voxel-nm", type=float, default=40.0, help="TXM voxel edge in nm (default 40)")
    parser.add_argument("--noise", type=float, default=0.0,
                        help="Gaussian noise on the spectra, sigma as a fraction of the edge step (default 0; 3-D TXM ~0.02-0.05)")
    parser.add_argument("--no-spectra", action="store_true", help="report the planted white line (no spectra, no fit)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--out", help="output directory (default RUN/xanes)")
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    parser.set_defaults(handler=_xanes)


def _xanes(args) -> int:
    from chemomech.errors import ConfigError
    from chemomech.io.atomic import write_file_atomic
    from chemomech.io.results import open_run, snapshot_index
    from chemomech.kernels_warmup import enable_compile_notice
    from chemomech.observables.txm_xanes import xanes
    from chemomech.plotting.xanes import plot_white_line

    enable_compile_notice()  # a note on stderr while the kernels compile (first use)

    ds = open_run(args.run)
    snapshot = snapshot_index(ds, args.snapshot, "--snapshot", repr(args.run))
    if not args.voxel_nm > 0:
        raise ConfigError(f"--voxel-nm {args.voxel_nm}: must be > 0")
    if not args.noise >= 0:
        raise ConfigError(f"--noise {args.noise}: must be >= 0 (a fraction of the edge step)")
    out = Path(args.out) if args.out else Path(args.run) / "xanes"
    targets = [out / f"xanes_{snapshot}.nc", out / f"xanes_{snapshot}.png"]
    existing = [str(path) for path in targets if path.exists()]
    if existing and not args.force:
        raise ConfigError(f"{', '.join(existing)} exists; use --force to replace")
    result = xanes(ds, snapshot=snapshot, voxel_nm=args.voxel_nm, spectra=not args.no_spectra,
                   noise=args.noise, seed=args.seed)
    write_file_atomic(targets[0], lambda path: result.to_netcdf(path, engine="h5netcdf"))
    write_file_atomic(targets[1], lambda path: plot_white_line(result, path))
    print(f"{result.attrs['material']} snapshot {snapshot}: white line {float(result['white_line_mean']):.3f} "
          f"+- {float(result['white_line_std']):.3f} eV over {int(result['histogram'].sum())} voxels of {args.voxel_nm:g} nm")
    for path in targets:
        print(f"wrote {path}")
    return 0
