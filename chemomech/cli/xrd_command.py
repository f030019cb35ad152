"""`chemomech xrd RUN [--wavelength A] [--out DIR] [--no-refine] [--counts N] [--force] [--quiet]`:
synthetic operando powder XRD of a run.

Writes DIR (default RUN/xrd): xrd.nc (patterns, `cm.observables.xrd`), lattice.nc (the
(003) deconvolution and the sequential refinement of a, c per phase and snapshot; skipped
with --no-refine) and the figures xrd_contour.png, deconvolution_003.png,
lattice_ratio.png, volume_change.png. The (003) component count is chosen by BIC with the
counting noise of a measurement with N counts at the strongest point (--counts, default 1e5;
the synthetic pattern itself is noise-free). Written to a temporary directory, then renamed.
A progress bar on stderr follows the stages and the refinement pattern by pattern when
refine_lattice_series reports its progress (the longest stage); --quiet silences it.
"""

from __future__ import annotations

DEFAULT_COUNTS = 1e5


def add_parser(sub) -> None:
    """Register the `xrd` subcommand on the argparse subparsers `sub`."""
    parser = sub.add_parser("xrd", help="synthetic operando powder XRD of a run")
    parser.add_argument("run", help="run directory")
    parser.add_argument("--wavelength", type=float, default=0.1173,
                        help="X-ray wavelength in Angstrom (default 0.1173, APS 11-ID-C)")
    parser.add_argument("--out", help="output directory (default RUN/xrd)")
    parser.add_argument("--no-refine", action="store_true",
                        help="patterns and contour map only: no (003) deconvolution or lattice refinement")
    parser.add_argument("--counts", type=float, default=DEFAULT_COUNTS,
                        help="counts at the strongest point, for the noise level of the BIC phase count (default 1e5)")
    parser.add_argument("--force", action="store_true", help="replace an existing output directory")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_xrd)


def _progress_bar(enabled: bool, total: int):
    """A tqdm bar (stderr) counting `total` units of work, or None."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="xrd", unit="step", leave=False,
                bar_format="{desc}: {n_fmt}/{total_fmt}|{bar}| {elapsed}<{remaining}")


def _advance(bar, label: str, steps: int = 1) -> None:
    if bar is not None:
        bar.set_description_str(label, refresh=False)
        bar.update(steps)


def _refine_with_progress(refine, bar, *args, **kwargs):
    """refine(*args, **kwargs), advancing `bar` by one per refined pattern when `refine`
    reports its progress (a `progress` callback), else by one at the end."""
    import inspect

    n_patterns = len(args[1]) if len(args) > 1 else 1
    if bar is not None and "progress" in inspect.signature(refine).parameters:
        kwargs["progress"] = lambda done, total: _advance(bar, f"refining pattern {done}/{total}")
        result = refine(*args, **kwargs)
    else:
        result = refine(*args, **kwargs)
        _advance(bar, "refined", n_patterns)
    return result


def _xrd(args) -> int:
    from pathlib import Path

    import numpy as np

    from chemomech.errors import ConfigError
    from chemomech.io.atomic import check_new_path, staged_directory
    from chemomech.io.results import open_run, run_material
    from chemomech.observables.powder_xrd import xrd
    from chemomech.observables.xrd_analysis import refine_lattice_series
    from chemomech.plotting import xrd as figures

    if not args.wavelength > 0:
        raise ConfigError(f"--wavelength {args.wavelength:g} must be a positive wavelength in Angstrom")
    if not args.counts > 0:
        raise ConfigError(f"--counts {args.counts:g} must be positive")
    out = Path(args.out) if args.out else Path(args.run) / "xrd"
    check_new_path(out, args.force)
    if not args.quiet:
        from chemomech.kernels_warmup import enable_compile_notice

        enable_compile_notice()  # the pattern kernel compiles on first use
    ds = open_run(args.run)
    material = run_material(ds)
    # steps: patterns, contour map, writing, done; with refinement also one per pattern
    # (deconvolution + refinement) and three figures
    bar = _progress_bar(not args.quiet, 4)
    try:
        _advance(bar, "patterns", 0)
        pattern = xrd(ds, wavelength_A=args.wavelength, material=material)
        if bar is not None and not args.no_refine:
            bar.total = 4 + 3 + int(np.atleast_2d(pattern["intensity"].values).shape[0])
        _advance(bar, "patterns")

        written = []
        with staged_directory(out, args.force) as staging:
            pattern.to_netcdf(staging / "xrd.nc", engine="h5netcdf")
            written.append("xrd.nc")
            _advance(bar, "contour map")
            written.append(figures.plot_xrd_contour(pattern, staging / "xrd_contour.png", run=ds).name)
            _advance(bar, "refining" if not args.no_refine else "writing")
            if not args.no_refine:
                intensity = pattern["intensity"].values
                scale = args.counts / max(float(intensity.max()), 1e-300)
                sigma = np.sqrt(np.maximum(intensity * scale, 1.0)) / scale
                lattice = _refine_with_progress(refine_lattice_series, bar, pattern["two_theta"].values, intensity,
                                                args.wavelength, material.a_ref, material.c_ref,
                                                deconvolution_sigma=sigma)
                for name in ("snapshot_time", "snapshot_soc", "snapshot_voltage"):
                    if name in pattern.coords:
                        lattice = lattice.assign_coords({name: ("pattern", pattern[name].values, pattern[name].attrs)})
                lattice.attrs["counts_for_bic"] = float(args.counts)
                lattice.to_netcdf(staging / "lattice.nc", engine="h5netcdf")
                written.append("lattice.nc")
                _advance(bar, "figures", 0)
                written.append(figures.plot_deconvolution_003(pattern, lattice, staging / "deconvolution_003.png").name)
                _advance(bar, "figures")
                written.append(figures.plot_lattice_ratio(lattice, staging / "lattice_ratio.png").name)
                _advance(bar, "figures")
                written.append(figures.plot_volume_change(lattice, staging / "volume_change.png", pattern).name)
                _advance(bar, "writing")
        _advance(bar, "done")
    finally:
        if bar is not None:
            bar.close()
    for name in written:
        print(f"wrote {out / name}")
    return 0
