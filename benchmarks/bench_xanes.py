"""Speed of the TXM-XANES white-line fit (issue target: 1e6 voxels x 60 energies < 10 s).

    python benchmarks/bench_xanes.py [--voxels 1000000] [--repeats 3] [--noise 0.02] [--run runs/out/sc-nc91-1C]

Times, after one warm-up (numba compilation of the spectrum kernel), the median of
  fit:      chemomech.observables.txm_xanes.fit_white_line on float32 spectra (generated with the
            default 60-energy scan, white lines uniform over the NC91 range 8350-8351.1 eV,
            Gaussian noise `noise` x edge step) - the issue's target;
  spectra:  ni_k_edge_spectra + noise for the same voxels (not part of the target);
  xanes():  the whole synthetic measurement of the last snapshot of `--run` (a 66-across
            voxel run) on 25 nm voxels, 132^3 voxels of which ~1.2e6 in the particle, with
            spectra and noise (skipped if the run directory is missing).
It also prints the fit's error statistics against the planted energies.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from chemomech.observables.txm_xanes import default_energies_eV, fit_white_line, ni_k_edge_spectra, xanes


def median_time(function, repeats: int):
    """(median, min, max) wall time [s] and the last result of function()."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return (statistics.median(times), min(times), max(times)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voxels", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--run", default="runs/out/sc-nc91-1C")
    args = parser.parse_args()

    energies = default_energies_eV()
    rng = np.random.default_rng(0)
    planted = rng.uniform(8350.0, 8351.1, args.voxels)
    ni_k_edge_spectra(planted[:10], energies)  # warm-up: numba compilation

    def make_spectra():
        spectra = ni_k_edge_spectra(planted, energies)
        spectra += np.float32(args.noise) * rng.standard_normal(spectra.shape, dtype=np.float32)
        return spectra

    (median, low, high), spectra = median_time(make_spectra, args.repeats)
    print(f"spectra: {args.voxels} voxels x {energies.size} energies: median {median:.2f} s (min {low:.2f}, max {high:.2f})")
    (median, low, high), fitted = median_time(lambda: fit_white_line(energies, spectra), args.repeats)
    error = fitted - planted
    print(f"fit:     {args.voxels} voxels x {energies.size} energies: median {median:.2f} s (min {low:.2f}, max {high:.2f}) "
          f"[target < 10 s]; error at noise {args.noise}: median |e| {np.nanmedian(np.abs(error)):.4f} eV, "
          f"std {np.nanstd(error):.4f} eV, mean {np.nanmean(error):+.5f} eV, failed {np.isnan(error).sum()}")
    spectra = None  # free the 240 MB before the xanes() timing

    if Path(args.run, "result.nc").is_file():
        from chemomech.io.results import open_run

        ds = open_run(args.run)
        (median, low, high), result = median_time(
            lambda: xanes(ds, snapshot=-1, voxel_nm=25, noise=args.noise), max(1, args.repeats // 2))
        print(f"xanes(): {args.run} last snapshot on 25 nm voxels {dict(result.sizes)}, "
              f"{int(result['histogram'].sum())} particle voxels: median {median:.2f} s (min {low:.2f}, max {high:.2f})")
    else:
        print(f"xanes(): skipped ({args.run}/result.nc not found)")


if __name__ == "__main__":
    main()
