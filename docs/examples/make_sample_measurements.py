"""Make the sample "measured" files in docs/examples/data/ - SYNTHETIC, not measured.

They let `chemomech compare` be tried at once, before one has beamline data, and show the
formats it reads. All are computed from one small simulation and then degraded like
measurements (counting noise, background, noisy spectra):

- the particle: an NC91 single-crystal sphere, R = 0.5 um, 50 nm voxels, c along z,
  charged at 1C to 4.5 V, elastic field on 5 snapshots evenly in charge (SAMPLE_CONFIG);
- xrd_nc91_1C_00.xy ... _04.xy: operando powder patterns of the 5 snapshots at 0.1173 A
  (cm.observables.xrd), scaled to ~2e4 counts at the strongest peak, plus a sloping
  background of ~150 counts, with Poisson noise, on a 0.002 deg 2-theta grid; pyFAI-style
  header ("# Wavelength: ... m", "#  2th_deg  I") that also says SYNTHETIC;
- sxdm_nc91_4p5V_frames.h5: SXDM frames of the last snapshot (4.5 V), (003) at 12 keV,
  30 nm beam, 50 nm raster steps, 11 rocking angles over 2 deg, a 16 x 16 pixel detector
  ROI (sxdm_scan.simulate_frames), scaled to ~400 counts in the brightest pixel, Poisson
  noise, uint16, in the layout `chemomech sxdm RUN --frames F.h5` writes:
  /entry/data/frames [angle, y, x, det_row, det_col] with the geometry (angles_deg,
  two_theta_deg, pixel_deg, energy_keV, step_nm, y_m, x_m, reflection) as attributes;
- txm_xanes_nc91_4p5V_white_line.h5: the TXM-XANES white-line energy [eV] of the last
  snapshot on 40 nm voxels, fitted from spectra with 2 % noise of the edge step
  (cm.observables.xanes), 0 outside the particle, at /exchange/white_line (float32).

Run from the repository root (about 10-20 s; rewrites the files, the same bytes each time
for the same chemomech version - every random draw is seeded):

    python docs/examples/make_sample_measurements.py

It also writes the source run to runs/out/examples/sample-source (git-ignored), so the
files can be compared with the very run they came from, and prints the compare command.
The run() / visualize() split follows the other examples: run() returns the arrays that
were written, visualize() draws them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

import chemomech as cm
from chemomech.plotting import save_figure

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SOURCE_RUN = ROOT / "runs" / "out" / "examples" / "sample-source"
SEED = 20240601
WAVELENGTH_A = 0.1173
SAMPLE_CONFIG = {
    "material": "nc91",
    "particle": {"geometry": "single-crystal", "shape": "sphere", "radius_um": 0.5, "voxel_nm": 50.0,
                 "c_axis": [0.0, 0.0, 1.0]},
    "protocol": {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5},
    "output": {"snapshots": 5, "mechanics": True},
}
XRD_GRID_DEG = (1.25, 5.15, 0.002)  # first, last, step of 2-theta
XRD_PEAK_COUNTS = 2.0e4
XRD_BACKGROUND = (150.0, -15.0)  # counts at the first angle, change per degree
SXDM = {"reflection": "003", "beam_nm": 30.0, "step_nm": 50.0, "rocking_deg": 2.0, "n_angles": 11,
        "energy_keV": 12.0, "detector_pixels": (16, 16)}
SXDM_PEAK_COUNTS = 400.0
SXDM_KEEP = ("angles_deg", "two_theta_deg", "pixel_deg", "energy_keV", "step_nm", "y_m", "x_m", "reflection")
XANES_VOXEL_NM = 40.0
XANES_NOISE = 0.02
NOTE = ("SYNTHETIC data: simulated by chemomech (docs/examples/make_sample_measurements.py), "
        "not measured. NC91 single crystal R = 0.5 um, 1C charge to 4.5 V.")


def run(config: dict = SAMPLE_CONFIG, seed: int = SEED) -> dict:
    """Simulate the particle and synthesise the noisy measurements (module docstring).
    Returns {"run": Dataset, "two_theta": [deg], "patterns": counts (snapshot, two_theta),
    "pattern_soc": SoC of each pattern, "frames": uint16 SXDM frames, "sxdm_geometry": dict,
    "white_line": float32 volume [eV], 0 outside}. Writes nothing."""
    from chemomech.observables.sxdm_scan import simulate_frames

    rng = np.random.default_rng(seed)
    ds = cm.simulate(config)

    first, last, step = XRD_GRID_DEG
    two_theta = first + step * np.arange(int(round((last - first) / step)) + 1)
    pattern = cm.observables.xrd(ds, wavelength_A=WAVELENGTH_A, two_theta_deg=two_theta)
    intensity = pattern.intensity.values
    background = XRD_BACKGROUND[0] + XRD_BACKGROUND[1] * (two_theta - first)
    counts = rng.poisson(XRD_PEAK_COUNTS * intensity / intensity.max() + background).astype(float)

    options = {key: value for key, value in SXDM.items()}
    frames, geometry = simulate_frames(ds, snapshot=-1, **options)
    frame_counts = rng.poisson(SXDM_PEAK_COUNTS * frames / frames.max()).astype(np.uint16)
    sxdm_geometry = {key: geometry[key] for key in SXDM_KEEP}
    sxdm_geometry.update({"intensity_units": "counts", "note": NOTE})

    xanes = cm.observables.xanes(ds, snapshot=-1, voxel_nm=XANES_VOXEL_NM, spectra=True, noise=XANES_NOISE,
                                 seed=int(rng.integers(2**31)))
    white_line = np.nan_to_num(xanes.white_line_energy.values, nan=0.0).astype(np.float32)
    return {"run": ds, "two_theta": two_theta, "patterns": counts, "pattern_soc": ds.snapshot_soc.values,
            "frames": frame_counts, "sxdm_geometry": sxdm_geometry, "white_line": white_line}


def write(result: dict, data: Path = DATA) -> list[Path]:
    """Write the files of `result` into folder `data`; returns their paths."""
    import h5py

    from chemomech.io.atomic import write_file_atomic
    from chemomech.io.readers import write_powder_pattern
    from chemomech.observables.sxdm_scan import write_sxdm_frames

    data.mkdir(parents=True, exist_ok=True)
    written = []
    for k, (counts, soc) in enumerate(zip(result["patterns"], result["pattern_soc"])):
        comment = (f"{NOTE}\nOperando powder pattern {k + 1} of {len(result['patterns'])}: SoC {soc:.3f} "
                   f"(270 mAh/g basis); wavelength {WAVELENGTH_A} Angstrom; intensity in counts with "
                   "Poisson noise and a sloping background.")
        written.append(write_powder_pattern(data / f"xrd_nc91_1C_{k:02d}.xy", result["two_theta"], counts,
                                            WAVELENGTH_A, comment=comment))
    written.append(write_sxdm_frames(data / "sxdm_nc91_4p5V_frames.h5", result["frames"], result["sxdm_geometry"]))

    def write_white_line(path):
        with h5py.File(path, "w") as handle:
            item = handle.create_dataset("exchange/white_line", data=result["white_line"], compression="gzip")
            item.attrs.update({"units": "eV", "voxel_nm": XANES_VOXEL_NM, "layout": "z, y, x",
                               "background": "0 outside the particle", "note": NOTE,
                               "spectrum_noise": f"{XANES_NOISE} of the edge step"})

    written.append(write_file_atomic(data / "txm_xanes_nc91_4p5V_white_line.h5", write_white_line))
    return written


def write_source_run(result: dict, out: Path = SOURCE_RUN) -> Path:
    """The simulation the files came from, as a run directory (replaced if present)."""
    from chemomech.io.rundir import write_run_directory
    from chemomech.simulation.run import summary_of

    ds = result["run"]
    return write_run_directory(out, tomllib.loads(ds.attrs["config"]), ds, summary_of(ds), force=True)


def visualize(result: dict, path) -> Path:
    """The patterns (offset), one SXDM frame summed over the detector, and a slice of the
    white-line volume. Written to `path` (PNG)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 3.6))
    xrd_axes, sxdm_axes, xanes_axes = figure.subplots(1, 3)
    offset = 0.3 * result["patterns"].max()
    for k, counts in enumerate(result["patterns"]):
        xrd_axes.plot(result["two_theta"], counts + k * offset, lw=0.6, label=f"SoC {100 * result['pattern_soc'][k]:.0f} %")
    xrd_axes.set(xlabel="2 theta [deg]", ylabel="counts (offset)", title="SYNTHETIC powder patterns")
    xrd_axes.legend(fontsize=7)
    total = result["frames"].sum(axis=(0, 3, 4), dtype=np.int64)
    sxdm_axes.imshow(total, origin="lower", cmap="magma")
    sxdm_axes.set(title="SYNTHETIC SXDM: counts per raster point", xlabel="x (50 nm steps)", ylabel="y")
    volume = np.where(result["white_line"] > 0, result["white_line"], np.nan)
    median = float(np.nanmedian(volume))
    image = xanes_axes.imshow(volume[:, volume.shape[1] // 2, :] - median, origin="lower", cmap="viridis")
    figure.colorbar(image, ax=xanes_axes, label=f"white line - {median:.2f} eV [eV]")
    xanes_axes.set(title="SYNTHETIC TXM-XANES, x-z slice", xlabel="x (40 nm)", ylabel="z")
    figure.tight_layout()
    return save_figure(figure, path, dpi=110)


if __name__ == "__main__":
    result = run()
    for path in write(result):
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1024:.0f} KiB)")
    print("wrote", write_source_run(result).relative_to(ROOT))
    print("wrote", visualize(result, ROOT / "runs" / "out" / "examples" / "sample_measurements.png").relative_to(ROOT))
    print("try:\n  chemomech compare runs/out/examples/sample-source --xrd docs/examples/data/xrd_nc91_1C_*.xy "
          "--sxdm docs/examples/data/sxdm_nc91_4p5V_frames.h5 --xanes docs/examples/data/txm_xanes_nc91_4p5V_white_line.h5 "
          "--xanes-dataset /exchange/white_line --xanes-noise 0.02")
