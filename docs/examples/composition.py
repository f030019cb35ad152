"""Composition as a sweep axis: how much Co does a 2 um single crystal need?

LiNi0.9Co_y Mn_(0.1-y) O2 between NM91 (y = 0) and NC91 (y = 0.1) as blends of the two
material files (material = { blend = { nc91 = f, nm91 = 1 - f } }, y = 0.1 f; mixing
rules in models/README.md, "Blends"), charged to 4.5 V at C/10 and 1C:

- runs/composition.sweep.toml: the 1-D sphere of radius 2 um -> capacity at 4.5 V;
- runs/composition_voxels.sweep.toml: the single-crystal sphere of radius 2 um on 100 nm
  voxels -> the spread of x at 4.5 V (std over the volume) and the width (FWHM) of the
  synthetic (003) powder peak at 4.5 V (chemomech.validation.heterogeneity).

    python docs/examples/composition.py     # ~15 min on 2 cores (the 12 voxel runs)

    result = run("runs/out/examples/composition")   # {"capacity": Dataset, "heterogeneity": Dataset}
    result["heterogeneity"].fwhm_003_deg.sel(c_rate=1.0)

Nothing is fitted to the blends: the end points are the calibrated end members
(tests/test_examples.py checks that the f = 0 and f = 1 points are NM91's and NC91's own
runs, bit for bit), the points between follow from the mixing rules alone.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from chemomech.plotting import save_figure

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = {"capacity": ROOT / "runs" / "composition.sweep.toml",
          "heterogeneity": ROOT / "runs" / "composition_voxels.sweep.toml"}
AXIS = "material.blend.nc91"


def sweep_table(name: str, fractions=None, voxel_nm: float | None = None) -> dict:
    """The sweep of runs/<name>.sweep.toml as a table, optionally with other NC91
    fractions or voxel size (for a quick version)."""
    sweep = tomllib.loads(SWEEPS[name].read_text())
    if fractions is not None:
        sweep["axes"][AXIS] = [float(f) for f in fractions]
    if voxel_nm is not None and "voxel_nm" in sweep["base"]["particle"]:
        sweep["base"]["particle"]["voxel_nm"] = float(voxel_nm)
    return sweep


def peak_width(point_dir: Path) -> float:
    """FWHM [deg 2theta] of the synthetic (003) powder peak at the run's last snapshot
    (4.5 V), at the study's wavelength (heterogeneity.peak_003_figures)."""
    from chemomech.io.results import open_run, run_material
    from chemomech.observables.powder_xrd import xrd
    from chemomech.validation import heterogeneity as het

    with open_run(point_dir) as ds:
        material = run_material(ds)
        pattern = xrd(ds, wavelength_A=het.WAVELENGTH_A, material=material)
        two_theta, intensity = het.peak_003_window(pattern, material)
        return float(het.half_maximum_width(two_theta, intensity[-1]))


def run(out=ROOT / "runs" / "out" / "examples" / "composition", fractions=None, voxel_nm=None,
        workers: int = 2) -> dict:
    """Both sweeps into out/capacity and out/heterogeneity (a rerun skips finished points).
    Returns {"capacity": summary, "heterogeneity": summary + fwhm_003_deg [deg]}, each over
    (nc91, c_rate)."""
    from chemomech.sweep import run_sweep
    from chemomech.sweep.sweep_file import load_sweep

    out = Path(out)
    capacity = run_sweep(sweep_table("capacity", fractions), out / "capacity", workers=workers, progress=False)
    table = sweep_table("heterogeneity", fractions, voxel_nm)
    heterogeneity = run_sweep(table, out / "heterogeneity", workers=workers, progress=False)
    widths = np.full((heterogeneity.sizes["nc91"], heterogeneity.sizes["c_rate"]), np.nan)
    for point in load_sweep(table).points:
        i = list(heterogeneity.nc91.values).index(point.values[AXIS])
        j = list(heterogeneity.c_rate.values).index(point.values["protocol.c_rate"])
        if str(heterogeneity.status.values[i, j]) == "ok":
            widths[i, j] = peak_width(out / "heterogeneity" / "points" / point.name)
    heterogeneity["fwhm_003_deg"] = (("nc91", "c_rate"), widths,
                                     {"units": "deg", "long_name": "FWHM of the (003) powder peak at 4.5 V"})
    heterogeneity.attrs["voxel_nm"] = float(table["base"]["particle"]["voxel_nm"])
    return {"capacity": capacity, "heterogeneity": heterogeneity}


def visualize(result: dict, path) -> Path:
    """Capacity at 4.5 V (1-D), std of x and (003) FWHM at 4.5 V (single crystal) against
    the Co content y, one line per C-rate. Written to `path` (PNG)."""
    from matplotlib.figure import Figure

    from chemomech.io.results import rate_label

    capacity, heterogeneity = result["capacity"], result["heterogeneity"]
    figure = Figure(figsize=(11, 3.4), layout="constrained")
    axes = figure.subplots(1, 3)
    panels = ((axes[0], capacity, "capacity_mAh_g", "capacity at 4.5 V (mAh/g)", "1-D sphere, R = 2 um"),
              (axes[1], heterogeneity, "x_std_end", "std of x at 4.5 V (-)", "single crystal, R = 2 um"),
              (axes[2], heterogeneity, "fwhm_003_deg", "(003) FWHM at 4.5 V (deg 2theta, 0.1173 A)",
               "single crystal, R = 2 um"))
    for ax, ds, name, label, title in panels:
        for c_rate in ds.c_rate.values:
            ax.plot(0.1 * ds.nc91.values, ds[name].sel(c_rate=c_rate).values, "o-", label=rate_label(float(c_rate)))
        ax.set(xlabel="Co content y in LiNi0.9Co_yMn_(0.1-y)O2", ylabel=label, title=title)
        ax.grid(alpha=0.3)
    axes[0].legend(title="charge rate")
    voxel = heterogeneity.attrs.get("voxel_nm")
    figure.suptitle("Blends of NM91 (y = 0) and NC91 (y = 0.1), mixing rules of models/README.md; nothing fitted "
                    "to the blends" + (f"; {voxel:g} nm voxels" if voxel else ""), fontsize=9)
    return save_figure(figure, path, dpi=120)


if __name__ == "__main__":  # needed: the Dask worker processes re-import this module
    result = run()
    print(result["capacity"].capacity_mAh_g.to_pandas().round(1))
    print(result["heterogeneity"].x_std_end.to_pandas().round(4))
    print(result["heterogeneity"].fwhm_003_deg.to_pandas().round(4))
    print("wrote", visualize(result, ROOT / "runs" / "out" / "examples" / "composition.png"))
