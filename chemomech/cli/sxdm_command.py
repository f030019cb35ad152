"""`chemomech sxdm RUN`: synthetic SXDM maps of one snapshot of a voxel run.

    chemomech sxdm RUN [--snapshot N] [--reflection 003] [--beam-nm 30] [--step-nm 50]
                       [--rocking-deg 2] [--n-angles 21] [--energy-kev 12]
                       [--frames FILE.h5] [--out DIR] [--force]

Writes DIR/sxdm_<snapshot>.nc (the maps Dataset of chemomech.observables.sxdm_scan.sxdm) and
DIR/sxdm_<snapshot>.png (default DIR = RUN/sxdm); with --frames also the simulated 5-D
frames [angle, y, x, det_row, det_col] with their geometry as HDF5 attributes, the layout
`chemomech compare --sxdm` and reduce_frames read back. Files are written under a
temporary name and renamed; existing files are replaced only with --force.
"""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    """Register the `sxdm` subcommand on the argparse subparsers `sub`."""
    parser = sub.add_parser("sxdm", help="synthetic SXDM maps (d-spacing, tilts, intensity) of a voxel run")
    parser.add_argument("run", help="voxel run directory (single-crystal or polycrystal, with mechanics)")
    parser.add_argument("--snapshot", type=int, default=-1, help="snapshot index (default -1, the last)")
    parser.add_argument("--reflection", default="003", help="(00l) reflection: 003, 006, 009 or 0012 (default 003)")
    parser.add_argument("--beam-nm", type=float, default=30.0, help="beam FWHM in nm (default 30)")
    parser.add_argument("--step-nm", type=float, default=50.0, help="raster step in nm (default 50)")
    parser.add_argument("--rocking-deg", type=float, default=2.0, help="full rocking range in degrees (default 2)")
    parser.add_argument("--n-angles", type=int, default=21, help="rocking angles (default 21)")
    parser.add_argument("--energy-kev", type=float, default=12.0, help="photon energy in keV (default 12)")
    parser.add_argument("--frames", metavar="FILE.h5",
                        help="also write the simulated frames [angle, y, x, det_row, det_col] to this HDF5 file")
    parser.add_argument("--out", help="output directory (default RUN/sxdm)")
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    parser.set_defaults(handler=_sxdm)


def _sxdm(args) -> int:
    from chemomech.errors import ConfigError
    from chemomech.io.atomic import write_file_atomic
    from chemomech.io.results import open_run, require_voxel_run, snapshot_index
    from chemomech.kernels_warmup import enable_compile_notice
    from chemomech.observables.sxdm_scan import simulate_frames, simulated_maps, write_sxdm_frames
    from chemomech.plotting.sxdm import plot_sxdm

    enable_compile_notice()  # a note on stderr while the kernels compile (first use)

    ds = open_run(args.run)
    require_voxel_run(ds, "SXDM needs", repr(args.run))
    snapshot = snapshot_index(ds, args.snapshot, "--snapshot", repr(args.run))
    out = Path(args.out) if args.out else Path(args.run) / "sxdm"
    targets = [out / f"sxdm_{snapshot}.nc", out / f"sxdm_{snapshot}.png"]
    if args.frames:
        targets.append(Path(args.frames))
    existing = [str(path) for path in targets if path.exists()]
    if existing and not args.force:
        raise ConfigError(f"{', '.join(existing)} already exist(s); pass --force to replace")

    frames, geometry = simulate_frames(ds, snapshot, args.reflection, args.beam_nm, args.step_nm, args.rocking_deg,
                                       n_angles=args.n_angles, energy_keV=args.energy_kev)
    maps = simulated_maps(ds, frames, geometry)
    maps.attrs["run"] = str(args.run)

    out.mkdir(parents=True, exist_ok=True)
    written = []
    if args.frames:
        written.append(write_sxdm_frames(args.frames, frames, geometry))
    del frames
    written.append(write_file_atomic(targets[0], lambda path: maps.to_netcdf(path, engine="h5netcdf")))
    written.append(write_file_atomic(targets[1], lambda path: plot_sxdm(maps, path)))
    for path in written:
        print(f"wrote {path}")
    return 0
