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

The data of a coin cell, from a second simulation (an NC91 1-D sphere of R = 2 um, 50
cells, two cycles at C/10 between 2.8 and 4.5 V, 20 snapshots in each step; CELL_CONFIG),
written to runs/out/examples/sample-cell:

- cell_nc91_C10.csv: the cycler file, time [s], Ecell [V], I [mA], (Q-Qo) [mAh] and cycle
  number for 12.3 mg of active material (stated in a comment line), every 60 s, the voltage
  with 1 mV of noise;
- lattice_nc91_C10_refined.csv: a and c of the first charge (volume mean over the shells)
  with their esds (0.0005 and 0.002 A), that noise added, and c0 0.005 A above the model's
  (another diffractometer), against the charge passed [mAh/g];
- xas_nc91_3p7V.xmu ... xas_nc91_4p5V.xmu: electrode-level Ni K-edge spectra of the first
  charge near 3.7, 4.0, 4.2 and 4.5 V (the volume-weighted shell spectra,
  observables/xas_electrode.py), scaled to an edge step of 1.4 over a sloping background,
  with noise of 0.3 % of the edge step; Athena-style headers with the voltage.

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
CELL_RUN = ROOT / "runs" / "out" / "examples" / "sample-cell"
CELL_CONFIG = {
    "material": "nc91",
    "particle": {"geometry": "sphere-1d", "radius_um": 2.0, "cells": 50},
    "protocol": {"kind": "experiment", "blocks": [{"repeat": 2, "steps": ["Charge at C/10 until 4.5 V",
                                                                          "Discharge at C/10 until 2.8 V"]}]},
    "output": {"snapshots": 20, "snapshot_cycles": [1]},
}
CELL_MASS_MG = 12.3
CELL_NOTE = ("SYNTHETIC data: simulated by chemomech (docs/examples/make_sample_measurements.py), not measured. "
             "NC91 1-D sphere R = 2 um, 2 cycles at C/10, 2.8-4.5 V.")
CELL_SAMPLE_S = 60.0       # cycler sampling interval [s]
CELL_VOLTAGE_NOISE_V = 1e-3
LATTICE_ESD_A = (0.0005, 0.002)  # a, c
LATTICE_C0_OFFSET_A = 0.005
XAS_VOLTAGES_V = (3.7, 4.0, 4.2, 4.5)
XAS_STEP = 1.4
XAS_NOISE = 0.003  # of the edge step


def run_cell(config: dict = CELL_CONFIG, seed: int = SEED) -> dict:
    """Simulate the coin cell and synthesise its cycler file, refined lattice table and
    XAS spectra (module docstring). Returns {"run": Dataset, "cycler": columns dict,
    "lattice": columns dict, "xas": [(voltage, energy, mu)]}. Writes nothing."""
    from chemomech.observables.compare_lattice import simulated_lattice
    from chemomech.observables.xas_electrode import electrode_spectra

    rng = np.random.default_rng(seed + 1)
    ds = cm.simulate(config)
    t = ds["time"].values
    grid = np.arange(0.0, t[-1], CELL_SAMPLE_S)
    cycle = ds["cycle_index"].values[np.minimum(np.searchsorted(t, grid, side="right") - 1, t.size - 1)]
    mass_g = CELL_MASS_MG * 1e-3
    cycler = {"time/s": grid,
              "Ecell/V": np.interp(grid, t, ds["voltage"].values) + rng.normal(0.0, CELL_VOLTAGE_NOISE_V, grid.size),
              # every step runs at C/10 = 27 mA/g: the sign of the run's current density, times 27 mA/g
              "I/mA": np.sign(np.interp(grid, t, ds["current_density"].values)) * 27.0 * mass_g,
              "(Q-Qo)/mA.h": np.interp(grid, t, ds["capacity"].values) * mass_g,
              "cycle number": cycle}

    charge = (ds["snapshot_cycle"].values == 1) & (ds["snapshot_step"].values == 0)
    a, c, _ = simulated_lattice(ds)
    capacity = np.interp(ds["snapshot_time"].values, t, ds["capacity"].values)
    lattice = {"charge (mAh/g)": capacity[charge],
               "a (A)": a[charge] + rng.normal(0.0, LATTICE_ESD_A[0], charge.sum()),
               "a_esd (A)": np.full(charge.sum(), LATTICE_ESD_A[0]),
               "c (A)": c[charge] + LATTICE_C0_OFFSET_A + rng.normal(0.0, LATTICE_ESD_A[1], charge.sum()),
               "c_esd (A)": np.full(charge.sum(), LATTICE_ESD_A[1])}

    spectra = electrode_spectra(ds)
    energy = spectra["energy"].values
    xas = []
    snapshot_voltage = ds["snapshot_voltage"].values
    for target in XAS_VOLTAGES_V:
        k = int(np.argmin(np.where(charge, np.abs(snapshot_voltage - target), np.inf)))
        mu = (0.15 + 2e-5 * (energy - energy[0]) + XAS_STEP * spectra["mu"].values[k]
              + rng.normal(0.0, XAS_NOISE * XAS_STEP, energy.size))
        xas.append((float(snapshot_voltage[k]), energy, mu))
    return {"run": ds, "cycler": cycler, "lattice": lattice, "xas": xas}


def write_cell(result: dict, data: Path = DATA) -> list[Path]:
    """Write the coin-cell files of `result` (run_cell) into folder `data`."""
    from chemomech.io.atomic import write_file_atomic

    data.mkdir(parents=True, exist_ok=True)

    def table(path, columns: dict, comments: list[str], fmt: str):
        names = list(columns)
        body = np.column_stack([columns[n] for n in names])
        text = "".join(f"# {line}\n" for line in comments) + ",".join(names) + "\n"
        text += "\n".join(",".join(fmt.format(v) for v in row) for row in body) + "\n"
        return write_file_atomic(path, lambda target: Path(target).write_text(text))

    written = [table(data / "cell_nc91_C10.csv", result["cycler"],
                     [CELL_NOTE, f"mass of active material: {CELL_MASS_MG} mg"], "{:.6g}"),
               table(data / "lattice_nc91_C10_refined.csv", result["lattice"],
                     [CELL_NOTE, "Refined lattice parameters of the first charge (volume mean of the model, "
                                 "noise of the esds added, c0 shifted by +0.005 A)."], "{:.6f}")]
    for voltage, energy, mu in result["xas"]:
        name = f"xas_nc91_{voltage:.1f}V.xmu".replace(".", "p", 1)
        comments = [CELL_NOTE, f"voltage: {voltage:.3f} V", "Ni K-edge, transmission, electrode-level",
                    " energy xmu"]
        text = "".join(f"#{' ' if not line.startswith(' ') else ''}{line}\n" for line in comments)
        text += "\n".join(f"{e:.2f} {m:.6f}" for e, m in zip(energy, mu)) + "\n"
        written.append(write_file_atomic(data / name, lambda target, text=text: Path(target).write_text(text)))
    return written


def write_cell_run(result: dict, out: Path = CELL_RUN) -> Path:
    """The coin-cell simulation the files came from, as a run directory."""
    from chemomech.io.rundir import write_run_directory
    from chemomech.simulation.run import summary_of

    ds = result["run"]
    return write_run_directory(out, tomllib.loads(ds.attrs["config"]), ds, summary_of(ds), force=True)


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
    cell = run_cell()
    for path in write_cell(cell):
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1024:.0f} KiB)")
    print("wrote", write_cell_run(cell).relative_to(ROOT))
    print("wrote", visualize(result, ROOT / "runs" / "out" / "examples" / "sample_measurements.png").relative_to(ROOT))
    print("try:\n  chemomech compare runs/out/examples/sample-source --xrd docs/examples/data/xrd_nc91_1C_*.xy "
          "--sxdm docs/examples/data/sxdm_nc91_4p5V_frames.h5 --xanes docs/examples/data/txm_xanes_nc91_4p5V_white_line.h5 "
          "--xanes-dataset /exchange/white_line --xanes-noise 0.02")
    print("  chemomech compare runs/out/examples/sample-cell --cycler docs/examples/data/cell_nc91_C10.csv "
          "--lattice docs/examples/data/lattice_nc91_C10_refined.csv --xas docs/examples/data/xas_nc91_*.xmu")
