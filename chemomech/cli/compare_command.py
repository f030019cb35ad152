"""`chemomech compare RUN [--xrd FILE ...] [--sxdm FILE.h5] [--xanes FILE] [--xas FILE ...] [--cycler FILE]
[--lattice FILE] [--out DIR]`:
a run held against measured data.

Writes DIR (default RUN/compare): compare.json with the figures of merit
(observables/compare.py: peak positions and widths and Rwp per XRD pattern; statistics of
the SXDM maps and of the XANES white-line energies, W1 and KS between simulated and
measured; the electrode spectra's E0 and white line vs SoC or voltage,
observables/xas_electrode.py; per cycle the capacities, CE, RMS voltage difference and dQ/dV
peaks of the cycler file, observables/compare_cycler.py; the refined lattice's c maximum, c drop and volume change and
the RMS of c/c0 and a/a0, observables/compare_lattice.py) and the side-by-side figures
compare_xrd.png, compare_sxdm.png, compare_xanes.png, compare_xas.png, compare_cycler.png,
compare_lattice.png
for the data given. Written to a temporary folder, then renamed.
"""

from __future__ import annotations


def add_parser(sub) -> None:
    """Register the `compare` subcommand on the argparse subparsers `sub`."""
    parser = sub.add_parser("compare", help="compare a run with measured XRD, SXDM, XANES files and refined lattice tables")
    parser.add_argument("run", help="run directory")
    parser.add_argument("--out", help="output directory (default RUN/compare)")
    parser.add_argument("--force", action="store_true", help="replace an existing output directory")
    xrd = parser.add_argument_group("operando powder XRD")
    xrd.add_argument("--xrd", nargs="+", default=[], metavar="FILE",
                     help="measured patterns in time order (.xy, .xye, .dat, .chi; 2-theta or Q)")
    xrd.add_argument("--xrd-soc", nargs="+", type=float, metavar="SOC",
                     help="SoC (0-1) of each pattern, within the run's SoC range "
                          "(default: the series spans the simulated charge evenly)")
    xrd.add_argument("--wavelength", type=float, help="wavelength in Angstrom (default: the files' headers, else 0.1173; "
                          "compare.json's wavelength_origin says which)")
    sxdm = parser.add_argument_group("SXDM (frames [angle, y, x, det_row, det_col] in HDF5)")
    sxdm.add_argument("--sxdm", metavar="FILE.h5", help="measured SXDM frames")
    sxdm.add_argument("--sxdm-dataset", default="/entry/data/frames", help="dataset path (default /entry/data/frames)")
    sxdm.add_argument("--sxdm-angles", nargs=2, type=float, metavar=("FIRST", "LAST"),
                      help="rocking angles in deg, if the file has no angles_deg attribute")
    sxdm.add_argument("--sxdm-two-theta", type=float, help="detector-centre 2-theta in deg, if not in the file")
    sxdm.add_argument("--sxdm-pixel-deg", nargs=2, type=float, metavar=("ROW", "COL"),
                      help="angular pixel size in deg, if not in the file")
    sxdm.add_argument("--sxdm-energy-kev", type=float, help="photon energy in keV, if not in the file")
    sxdm.add_argument("--sxdm-step-nm", type=float, help="raster step in nm, if not in the file")
    sxdm.add_argument("--beam-nm", type=float, default=30.0, help="beam FWHM in nm for the simulation (default 30)")
    xanes = parser.add_argument_group("TXM-XANES")
    xanes.add_argument("--xanes", metavar="FILE", help="measured white-line volume or energy stack (TIFF or HDF5)")
    xanes.add_argument("--xanes-dataset", help="HDF5 dataset path of the stack or volume")
    xanes.add_argument("--xanes-energy-dataset", help="HDF5 dataset path of the stack's energies (eV or keV)")
    xanes.add_argument("--xanes-energies", metavar="FILE", help="text file of the stack's energies (eV), one per line")
    xanes.add_argument("--xanes-voxel-nm", type=float, default=40.0, help="voxel of the synthetic TXM in nm (default 40)")
    xanes.add_argument("--xanes-noise", type=float, default=0.0,
                       help="noise of the synthetic spectra, fraction of the edge step (default 0)")
    xas = parser.add_argument_group("electrode-level XAS (Ni K-edge spectra)")
    xas.add_argument("--xas", nargs="+", default=[], metavar="FILE",
                     help="measured spectra in time order: energy + mu columns (one or several), Athena .xmu/.nor, "
                          "I0/It, or HDF5 (chemomech/io/xas_spectra.py)")
    xas.add_argument("--xas-labels", nargs="+", metavar="LABEL",
                     help="voltage or SoC of each spectrum, e.g. 3.8V 4.2V 4.5V or 20%% 50%% (default: from the "
                          "column names, headers or file names, else spread evenly over the run)")
    xas.add_argument("--xas-energy-dataset", help="HDF5 dataset path of the energies")
    xas.add_argument("--xas-mu-dataset", help="HDF5 dataset path of mu (1-D, or 2-D for several spectra)")
    cycler = parser.add_argument_group("cycler file of the measured cell")
    cycler.add_argument("--cycler", metavar="FILE", help="BioLogic .mpr (needs the [cycler] extra) or .mpt, or a CSV/TSV "
                        "with named columns or --cycler-columns (chemomech/io/cycler.py)")
    cycler.add_argument("--cycler-mass-mg", type=float, metavar="M",
                        help="mass of active material in mg, when the file does not state it")
    cycler.add_argument("--cycler-columns", metavar="MAP",
                        help="columns by 0-based index or name, with optional units, e.g. "
                             "time=0,voltage=1,current=2:A,capacity=3,cycle=4")
    lattice = parser.add_argument_group("refined lattice parameters (sequential refinement)")
    lattice.add_argument("--lattice", metavar="FILE", help="table of a, c (and esds, volume) against charge passed "
                         "[mAh/g], time [h], SoC or voltage (CSV, TSV or whitespace; chemomech/io/lattice_table.py)")
    lattice.add_argument("--lattice-columns", metavar="MAP",
                         help="0-based columns when the header does not name them, e.g. charge=0,a=2,c=4 "
                              "(keys: charge, time, soc, voltage, a, c, a_err, c_err, volume)")
    parser.add_argument("--snapshot", type=int, default=-1,
                        help="snapshot compared with the SXDM and XANES data (default -1, the last)")
    parser.set_defaults(handler=_compare)


def _compare(args) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from chemomech.errors import ConfigError
    from chemomech.io.atomic import check_new_path, staged_directory
    from chemomech.observables import compare
    from chemomech.io.results import open_run, require_voxel_run, snapshot_index
    from chemomech.plotting import compare as figures

    if not (args.xrd or args.sxdm or args.xanes or args.lattice or args.xas or args.cycler):
        raise ConfigError("nothing to compare: give at least one of --xrd FILE..., --sxdm FILE, --xanes FILE, "
                          "--xas FILE..., --lattice FILE, --cycler FILE")
    if (args.cycler_mass_mg is not None or args.cycler_columns) and not args.cycler:
        raise ConfigError("--cycler-mass-mg and --cycler-columns go with --cycler FILE")
    if args.cycler_mass_mg is not None and not args.cycler_mass_mg > 0:
        raise ConfigError(f"--cycler-mass-mg {args.cycler_mass_mg:g} must be a positive mass in mg")
    if args.xas_labels and not args.xas:
        raise ConfigError("--xas-labels goes with --xas FILE...")
    if args.lattice_columns and not args.lattice:
        raise ConfigError("--lattice-columns goes with --lattice FILE")
    if args.wavelength is not None and not args.wavelength > 0:
        raise ConfigError(f"--wavelength {args.wavelength:g} must be a positive wavelength in Angstrom")
    if not args.xanes_voxel_nm > 0:
        raise ConfigError(f"--xanes-voxel-nm {args.xanes_voxel_nm:g} must be > 0")
    out = check_new_path(Path(args.out) if args.out else Path(args.run) / "compare", args.force)
    ds = open_run(args.run)
    snapshot = snapshot_index(ds, args.snapshot, "--snapshot", repr(args.run))
    title = f"{ds.attrs.get('material', '')} {Path(args.run).name}"
    metrics = {"run": str(args.run), "material": ds.attrs.get("material", "")}
    plots = []

    if args.xrd:
        soc = np.asarray(args.xrd_soc) if args.xrd_soc else None
        metrics["xrd"], xrd_figure = compare.compare_xrd(ds, args.xrd, args.wavelength, soc,
                                                         given_as="the --wavelength option")
        plots.append(("compare_xrd.png", lambda path: figures.plot_xrd_comparison(xrd_figure, path, title)))

    if args.sxdm:
        from chemomech.observables.sxdm_scan import read_sxdm_frames

        require_voxel_run(ds, "the SXDM comparison needs", repr(args.run))
        frames, geometry = read_sxdm_frames(args.sxdm, args.sxdm_dataset, angles_deg=args.sxdm_angles,
                                            two_theta_deg=args.sxdm_two_theta, pixel_deg=args.sxdm_pixel_deg,
                                            energy_keV=args.sxdm_energy_kev, step_nm=args.sxdm_step_nm)
        metrics["sxdm"], simulated_maps, measured_maps = compare.compare_sxdm(ds, frames, geometry, snapshot, args.beam_nm)
        del frames
        plots.append(("compare_sxdm.png",
                      lambda path: figures.plot_sxdm_comparison(simulated_maps, measured_maps, path, title)))

    if args.xanes:
        from chemomech.observables.txm_xanes import measured_white_line

        energies = None
        if args.xanes_energies:
            energies = _read_energies(args.xanes_energies)
        measured, _ = measured_white_line(args.xanes, dataset=args.xanes_dataset, energies_eV=energies,
                                          energy_dataset=args.xanes_energy_dataset)
        metrics["xanes"], simulated = compare.compare_xanes(ds, measured, snapshot, args.xanes_voxel_nm, args.xanes_noise)
        simulated_values = simulated["white_line_energy"].values
        plots.append(("compare_xanes.png", lambda path: figures.plot_xanes_comparison(
            simulated_values, measured, metrics["xanes"], path, title=title)))

    if args.xas:
        from chemomech.io.xas_spectra import read_xas_spectra
        from chemomech.observables.xas_electrode import compare_xas
        from chemomech.plotting.compare_xas import plot_xas_comparison

        spectra = read_xas_spectra(args.xas, labels=args.xas_labels, energy_dataset=args.xas_energy_dataset,
                                   mu_dataset=args.xas_mu_dataset)
        metrics["xas"], xas_figure = compare_xas(ds, spectra)
        _warn_few_snapshots("XAS", ds.sizes.get("snapshot", 0), len(spectra))
        plots.append(("compare_xas.png", lambda path: plot_xas_comparison(xas_figure, path, title)))

    if args.cycler:
        from chemomech.observables.compare_cycler import compare_cycler
        from chemomech.plotting.compare_cycler import plot_cycler_comparison

        metrics["cycler"], cycler_figure = compare_cycler(ds, args.cycler, mass_mg=args.cycler_mass_mg,
                                                          columns=args.cycler_columns)
        plots.append(("compare_cycler.png", lambda path: plot_cycler_comparison(cycler_figure, path, title)))

    if args.lattice:
        from chemomech.io.lattice_table import read_lattice_table
        from chemomech.observables.compare_lattice import compare_lattice
        from chemomech.plotting.compare_lattice import plot_lattice_comparison

        table = read_lattice_table(args.lattice, args.lattice_columns)
        metrics["lattice"], lattice_figure = compare_lattice(ds, table, run=args.run)
        _warn_few_snapshots("lattice", metrics["lattice"]["snapshots_used"], metrics["lattice"]["points_compared"])
        plots.append(("compare_lattice.png", lambda path: plot_lattice_comparison(lattice_figure, path, title)))

    with staged_directory(out, args.force) as staging:
        (staging / "compare.json").write_text(json.dumps(metrics, indent=2, default=_plain) + "\n")
        for name, plot in plots:
            plot(staging / name)
    print(f"wrote {out / 'compare.json'}")
    for name, _ in plots:
        print(f"wrote {out / name}")
    return 0


MIN_SNAPSHOTS = 10  # fewer snapshots than this (and than measured points) under a compared curve: a warning


def _warn_few_snapshots(kind: str, snapshots: int, measured: int) -> None:
    """The simulated curve of a comparison is interpolated between the run's snapshots: say
    which run option gives more when there are fewer than MIN_SNAPSHOTS and fewer than the
    measured points."""
    import warnings

    if snapshots < min(MIN_SNAPSHOTS, measured):
        warnings.warn(f"the {kind} comparison has {snapshots} snapshots of the run under {measured} measured points: "
                      "the simulated curve is interpolated between them; rerun with more snapshots "
                      "(output.snapshots, e.g. --set output.snapshots=20, and output.snapshot_cycles naming the "
                      "cycles compared)", stacklevel=2)


def _read_energies(path):
    """Energies [eV] from a text file: one number per line ('#' comments allowed)."""
    import numpy as np

    from chemomech.errors import ReadError

    values = []
    try:
        lines = open(path).read().splitlines()
    except OSError as exc:
        raise ReadError(f"{path}: cannot read ({exc.strerror})") from None
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            values.append(float(text))
        except ValueError:
            raise ReadError(f"{path}, line {number}: expected one energy in eV, found {text[:40]!r}") from None
    if len(values) < 3:
        raise ReadError(f"{path}: expected at least 3 energies (one per line), found {len(values)}")
    return np.asarray(values)


def _plain(value):
    """JSON form of numpy scalars and arrays."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
