"""A small single crystal charged at 1C, and the operando powder XRD it would give.

An NC91 single-crystal sphere of radius 0.5 um on 50 nm voxels (22 across, c axis along
z) is charged at 1C to 4.5 V with the elastic field solved on 8 snapshots; then
cm.observables.xrd turns every snapshot into a powder pattern at the study's wavelength
(0.1173 A):

    python docs/examples/single_crystal_xrd.py     # ~10 s; figure in runs/out/examples/

    result = run()                 # {"run": Dataset, "xrd": Dataset, "peak_003": Dataset}
    result["xrd"].intensity        # (snapshot, two_theta)
    result["peak_003"]             # fitted (003) position vs Bragg's law, per snapshot

The check: the (003) planes are the layers, d_003 = c/3, so Bragg's law puts the
reflection at 2 theta = 2 asin(lambda / (2 c/3)). Here c is computed independently of the
XRD code, from the material's lattice_c(x) on every voxel times (1 + the elastic strain
along c), averaged over the particle. The (003) peak of each pattern, located by a
pseudo-Voigt fit (xrd_analysis.peak_positions_widths), must sit there within 0.001 deg
(one step of the pattern's 2-theta grid; found within ~1e-4 deg), while it moves by
~0.09 deg over the charge: first to lower angle as c grows (to ~60 % SoC), then to
higher angle as c collapses (tests/test_examples.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

import chemomech as cm
from chemomech.plotting import save_figure

ROOT = Path(__file__).resolve().parents[2]
WAVELENGTH_A = 0.1173  # the study's high-energy beamline
CONFIG = {
    "material": "nc91",
    "particle": {"geometry": "single-crystal", "shape": "sphere", "radius_um": 0.5, "voxel_nm": 50.0,
                 "c_axis": [0.0, 0.0, 1.0]},
    "protocol": {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5},
    "output": {"snapshots": 8, "mechanics": True},
}


def bragg_two_theta_003(ds: xr.Dataset, wavelength_A: float = WAVELENGTH_A) -> xr.Dataset:
    """Particle-mean c [Angstrom] per snapshot from material.lattice_c(x) (1 + elastic
    strain along c) over the solid voxels, and the (003) angle of Bragg's law,
    2 theta = 2 asin(3 lambda / (2 c)) [deg]."""
    from chemomech.io.results import run_material

    material = run_material(ds)  # the material the run was made with
    x = ds.x_li.values.reshape(ds.sizes["snapshot"], -1)
    strain_c = ds.elastic_strain_c.values.reshape(x.shape)
    solid = np.isfinite(x)
    c_local = material.lattice_c(np.where(solid, x, 1.0)) * (1.0 + np.where(solid, strain_c, 0.0))
    c_mean = (c_local * solid).sum(axis=1) / solid.sum(axis=1)
    two_theta = 2.0 * np.degrees(np.arcsin(3.0 * wavelength_A / (2.0 * c_mean)))
    return xr.Dataset({"lattice_c_mean": ("snapshot", c_mean, {"units": "angstrom"}),
                       "bragg_two_theta": ("snapshot", two_theta, {"units": "deg"})},
                      coords={"snapshot": ds.snapshot.values, "snapshot_soc": ds.snapshot_soc})


def run(config: dict = CONFIG, wavelength_A: float = WAVELENGTH_A) -> dict:
    """Simulate the crystal, its powder patterns and the (003) peak positions.
    Returns {"run": the cm.simulate Dataset, "xrd": cm.observables.xrd Dataset,
    "peak_003": Dataset over snapshot of lattice_c_mean, bragg_two_theta, fitted_two_theta
    and fitted_fwhm [deg]}."""
    from chemomech.observables.xrd_analysis import peak_positions_widths

    ds = cm.simulate(config)
    pattern = cm.observables.xrd(ds, wavelength_A=wavelength_A)
    peak = bragg_two_theta_003(ds, wavelength_A)
    window = (float(peak.bragg_two_theta.min()) - 0.1, float(peak.bragg_two_theta.max()) + 0.1)
    fits = peak_positions_widths(pattern.two_theta.values, pattern.intensity.values, [window])
    peak["fitted_two_theta"] = ("snapshot", np.asarray(fits["position"])[:, 0], {"units": "deg"})
    peak["fitted_fwhm"] = ("snapshot", np.asarray(fits["fwhm"])[:, 0], {"units": "deg"})
    peak.attrs["window_deg"] = window
    return {"run": ds, "xrd": pattern, "peak_003": peak}


def visualize(result: dict, path) -> Path:
    """Left: the (003) region of every pattern, coloured by SoC, with Bragg's angle marked.
    Right: fitted (003) position and Bragg's law vs SoC. Written to `path` (PNG)."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    pattern, peak = result["xrd"], result["peak_003"]
    low, high = peak.attrs["window_deg"]
    region = pattern.sel(two_theta=slice(low, high))
    figure = Figure(figsize=(9, 3.6))
    pattern_axes, shift_axes = figure.subplots(1, 2)
    colours = colormaps["viridis"](np.linspace(0, 1, pattern.sizes["snapshot"]))
    for k, colour in enumerate(colours):
        soc = float(peak.snapshot_soc[k])
        pattern_axes.plot(region.two_theta, region.intensity.isel(snapshot=k), color=colour, lw=1,
                          label=f"SoC {100 * soc:.0f} %")
        pattern_axes.axvline(float(peak.bragg_two_theta[k]), color=colour, lw=0.6, ls=":")
    pattern_axes.set(xlabel="2 theta [deg]", ylabel="intensity [arb.]",
                     title=f"(003), lambda = {pattern.attrs['wavelength_A']} A")
    pattern_axes.legend(fontsize=7)
    shift_axes.plot(100 * peak.snapshot_soc, peak.bragg_two_theta, "-", color="0.6", label="Bragg, mean c(x)")
    shift_axes.plot(100 * peak.snapshot_soc, peak.fitted_two_theta, "o", ms=4, label="fitted peak")
    shift_axes.set(xlabel="state of charge [%]", ylabel="(003) 2 theta [deg]", title="(003) position")
    shift_axes.legend(fontsize=8)
    figure.tight_layout()
    return save_figure(figure, path, dpi=120)


if __name__ == "__main__":
    result = run()
    peak = result["peak_003"]
    error = np.abs(peak.fitted_two_theta - peak.bragg_two_theta).max()
    print(f"{result['run'].attrs['material']} crystal: SoC {result['run'].attrs['soc_end']:.3f} at 4.5 V; "
          f"(003) moves {float(peak.fitted_two_theta.min() - peak.fitted_two_theta[0]):+.4f} deg, then "
          f"{float(peak.fitted_two_theta[-1] - peak.fitted_two_theta.min()):+.4f} deg; "
          f"largest distance from Bragg's law {float(error):.1e} deg")
    print("wrote", visualize(result, ROOT / "runs" / "out" / "examples" / "single_crystal_xrd.png"))
