"""C-rate heterogeneity of single-crystal NC91 and NM91 at 4.5 V, for the Fickian model
and each coupling option of [physics] (transport/coupling.py).

    python validation/rate_heterogeneity.py                 # the study (80 voxel runs and 40 graded
                                                            # 1-D rows; tens of hours at 50 nm on 2 cores)
    python validation/rate_heterogeneity.py --quick         # a tiny version (~40 s): 250 nm voxels,
                                                            # 1C and 2C, baseline only, sphere only,
                                                            # 4 snapshots, SXDM and TXM on 250 nm grids
    python validation/rate_heterogeneity.py --convergence   # the figures vs grid at 1C and 2C
             [--voxel-sizes 100,71,50 --cells 25,50,100]   # a subset of the grids (coarse ones first)
    options: --materials nc91,nm91  --rates 0.1,0.5,1,2
             --options baseline,stress_assisted_diffusion,slab_spacing_diffusivity,phase_separation,all
             --shapes sphere,platelet,sphere-1d  --voxel-nm 50  --cells 200  --out DIR (default validation/out/rate_heterogeneity/)  --jobs N

Rows. Single crystals with the c axis along z: a sphere of radius 2 um and the hexagonal
platelet of the same volume (aspect = width across corners / thickness = 3, as
runs/platelet.toml; circumradius from heterogeneity.platelet_radius_um), on --voxel-nm
voxels; and, as a grid-converged reference for the model variants, the 1-D sphere of the
same radius (shape "sphere-1d", isotropic D(x), on the last of --cells, default 200 radial
cells); each material at each C-rate, charged at constant current from the pristine state
to 4.5 V, with 20 snapshots evenly in charge; options: the baseline (no [physics] table),
each coupling alone, and all three together.

Figures of each row (definitions and units: chemomech/validation/heterogeneity.py), from
the run at its end (4.5 V): SoC reached; std, 5th and 95th percentiles of x over the
volume; volume fraction charged beyond 91 % nominal SoC; (003) FWHM and its deconvolution
(number of components by BIC, c and weight of each); SXDM d-spacing and tilt spreads; TXM
white-line spread; and the voltage at which (003) first needs more than one component.

Outputs in --out: table.md and table.csv (one line per row), report.md (the table, the
figures and the section that puts the study's qualitative statements next to what each
model variant gives), peaks_003_<shape>.png (the (003) peak at 4.5 V with its components,
material x rate x option), slices_x_<material>_<shape>.png (x on the x-z mid-plane, the
plane holding the c axis); runs/<row>/ holds each row's run directory (config.toml,
result.nc, summary.json: `chemomech xrd/sxdm/xanes` read it) and figures.json.
A rerun reuses every row whose figures.json has the same configuration and the same
material file (SHA-256) and computes only the others. Options whose physics is not
implemented yet (heterogeneity.option_unavailable, or any error of the run) are rows
"not available: <reason>" and are tried again on the next run.

--convergence: the sphere at 1C and 2C (or --rates) on voxels of 100, 71, 50, 35 and 25 nm,
and the 1-D sphere (geometry sphere-1d) of the same radius on 25-400 radial cells, each
uniform and graded towards the surface (outermost cell radius / (10 cells));
writes convergence.md / convergence.csv (each figure vs grid, and the relative change
between the two finest grids, (f_finest - f_next) / |f_finest|) and convergence_<figure>.png.
Runs too large for the machine's memory (simulation/memory.py) are rows "failed: ...".

Nothing is tuned: the script only measures.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from chemomech.validation import heterogeneity as het

DEFAULT_OUT = Path(__file__).absolute().parent / "out" / "rate_heterogeneity"
RADIUS_UM = 2.0
SNAPSHOTS = 20
CONVERGENCE_VOXEL_NM = (100.0, 71.0, 50.0, 35.0, 25.0)
CONVERGENCE_CELLS = (25, 50, 100, 200, 400)
CONVERGENCE_RATES = (1.0, 2.0)
STUDY_SHAPES = ("sphere", "platelet", "sphere-1d")
STUDY_CELLS = 200  # radial cells of the 1-D reference rows, graded (--convergence: figures within ~1 % at 200)
GRADING = 10.0     # graded 1-D rows: the outermost cell is radius / (GRADING cells)
STUDY_MEASUREMENT = {"sxdm_beam_nm": 30.0, "sxdm_step_nm": 50.0, "xanes_voxel_nm": 40.0}  # the study's grids
QUICK = {"voxel_nm": 250.0, "rates": (1.0, 2.0), "options": ("baseline",), "snapshots": 4,
         "measurement": {"sxdm_beam_nm": 250.0, "sxdm_step_nm": 250.0, "xanes_voxel_nm": 250.0},
         "convergence_voxel_nm": (400.0, 250.0), "convergence_cells": (25, 50)}

STUDY_STATEMENTS = (
    "In single crystals NM91's sluggish Li transport at high SoC makes delithiation heterogeneous: "
    "the outer shell over-charges into the collapsed H3 lattice first, the contracted shell slows "
    "the Li leaving the core further (self-accelerating), and two lattices with very different c "
    "coexist in one crystal; SC-NM91 is more heterogeneous than SC-NC91 "
    "(../shared/physics-brief.md, \"The question users ask\")."
)

# the table: (column title, figure key, format)
COLUMNS = (
    ("SoC at 4.5 V", "soc_end", "{:.3f}"),
    ("x std", "x_std", "{:.4f}"),
    ("x p5", "x_p5", "{:.3f}"),
    ("x p95", "x_p95", "{:.3f}"),
    ("vol. beyond 91 % SoC (unresolved: the shell is thinner than a voxel)", "fraction_beyond_91", "{:.3f}"),
    ("(003) FWHM [deg]", "fwhm_003_deg", "{:.4f}"),
    ("(003) components", "n_components", "{:d}"),
    ("c of components [A]", "c_components_A", "{:.3f}"),
    ("weights", "weights", "{:.2f}"),
    ("(003) splits at [V]", "split_onset_V", "{:.3f}"),
    ("SXDM d std [%]", "sxdm_d_rel_std_pct", "{:.3f}"),
    ("SXDM tilt y std [deg]", "sxdm_tilt_y_std_deg", "{:.4f}"),
    ("SXDM tilt z std [deg]", "sxdm_tilt_z_std_deg", "{:.4f}"),
    ("XANES white-line std [eV]", "xanes_white_line_std_eV", "{:.4f}"),
)
SCALAR_FIGURES = ("soc_end", "x_std", "x_p5", "x_p95", "fraction_beyond_91", "fwhm_003_deg", "n_components",
                  "split_onset_V", "sxdm_d_rel_std_pct", "sxdm_tilt_y_std_deg", "sxdm_tilt_z_std_deg",
                  "xanes_white_line_std_eV")


# ---------------------------------------------------------------------------------------
# rows
# ---------------------------------------------------------------------------------------
def rate_text(c_rate: float) -> str:
    from chemomech.io.results import rate_label

    return rate_label(c_rate)


def graded_surface_cell_nm(cells: int) -> float:
    """The outermost cell [nm] of the graded 1-D rows: ten times finer than a uniform cell,
    radius / (10 cells) (2 nm on 100 cells of the 2 um sphere)."""
    return 1e3 * RADIUS_UM / (GRADING * cells)


def row_spec(material, shape, c_rate, option, voxel_nm=None, cells=None, snapshots=SNAPSHOTS,
             measurement=STUDY_MEASUREMENT, graded=False) -> dict:
    """One row: its identity, folder name, run configuration (heterogeneity.run_config)
    and the SXDM / TXM grids of its measurement (heterogeneity.heterogeneity_figures).
    graded: a sphere-1d row on a mesh graded towards the surface (graded_surface_cell_nm)."""
    surface = graded_surface_cell_nm(cells) if graded and cells is not None else None
    grid = f"{voxel_nm:g}nm" if cells is None else f"{cells}cells" + (f"-graded{surface:g}nm" if surface else "")
    key = f"{material}_{shape}_{c_rate:g}C_{option}_{grid}"
    config = het.run_config(material, c_rate, option, shape="sphere" if shape == "sphere-1d" else shape,
                            radius_um=RADIUS_UM, voxel_nm=voxel_nm if voxel_nm else 50.0, cells=cells,
                            snapshots=snapshots, surface_cell_nm=surface)
    return {"key": key, "material": material, "shape": shape, "c_rate": float(c_rate), "option": option,
            "voxel_nm": voxel_nm, "cells": cells, "graded": surface is not None, "grid": grid, "config": config,
            "measurement": dict(measurement)}


def study_specs(materials, rates, options, voxel_nm, snapshots, shapes=STUDY_SHAPES,
                measurement=STUDY_MEASUREMENT, cells=STUDY_CELLS) -> list[dict]:
    """The study's rows: shape x material x rate x option; "sphere-1d" rows on `cells`
    radial cells, the others on voxel_nm voxels."""
    return [row_spec(m, shape, r, o, voxel_nm=None if shape == "sphere-1d" else voxel_nm,
                     cells=cells if shape == "sphere-1d" else None, snapshots=snapshots, measurement=measurement,
                     graded=shape == "sphere-1d")
            for shape in shapes for m in materials for r in rates for o in options]


def convergence_specs(materials, rates, options, voxel_sizes, cell_counts, snapshots,
                      measurement=STUDY_MEASUREMENT) -> list[dict]:
    specs = [row_spec(m, "sphere", r, o, voxel_nm=v, snapshots=snapshots, measurement=measurement)
             for m in materials for r in rates for o in options for v in voxel_sizes]
    specs += [row_spec(m, "sphere-1d", r, o, cells=n, snapshots=snapshots, measurement=measurement, graded=graded)
              for m in materials for r in rates for o in options for graded in (False, True) for n in cell_counts]
    return specs


def material_sha256(material: str) -> str:
    from chemomech.io.results import material_digest
    from chemomech.materials.material import material_path

    return material_digest(material_path(material).read_text())


def finished_run_seconds(folder: Path, config: dict, digest: str) -> float | None:
    """The simulation wall time [s] of a complete run directory of this row (config.toml
    equal to `config`, summary.json and result.nc present, the same material file by
    SHA-256), or None: a study stopped between a row's simulation and its measurement
    measures the run again instead of simulating it again."""
    import tomllib

    try:
        same = (tomllib.loads((folder / "config.toml").read_text()) == config
                and (folder / "material.sha256").read_text().strip() == digest
                and (folder / "result.nc").is_file())
        return float(json.loads((folder / "summary.json").read_text())["wall_s"]) if same else None
    except (OSError, ValueError, KeyError):
        return None


def _record(spec: dict, status: str, **extra) -> dict:
    record = {k: spec[k] for k in ("key", "material", "shape", "c_rate", "option", "voxel_nm", "cells", "graded", "grid")}
    record.update(status=status, **extra)
    return record


def compute_row(spec: dict, out: str) -> dict:
    """The figures of one row: from runs/<key>/figures.json when it holds the same config
    and material file, else simulated (written as a run directory) and measured. Returns a
    record: the row's identity, status ("ok", "not available: ...", "failed: ..."), figures,
    the (003) peak of the last snapshot and wall_s."""
    import chemomech as cm
    from chemomech.errors import interrupted_in_kernel
    from chemomech.io.results import open_run
    from chemomech.io.rundir import write_run_directory
    from chemomech.simulation.run import summary_of

    folder = Path(out) / "runs" / spec["key"]
    digest = material_sha256(spec["material"])
    cached = folder / "figures.json"
    if cached.is_file():
        stored = json.loads(cached.read_text())
        if (stored.get("config") == spec["config"] and stored.get("measurement") == spec["measurement"]
                and stored.get("material_sha256") == digest):
            return _record(spec, "ok", figures=stored["figures"], peak=stored["peak"], wall_s=stored["wall_s"],
                           run_dir=str(folder), cached=True)
    geometry = spec["config"]["particle"]["geometry"]
    reason = het.option_unavailable(spec["option"], spec["material"], geometry)
    if reason is not None:
        return _record(spec, f"not available: {reason}")
    started = time.perf_counter()
    simulated = finished_run_seconds(folder, spec["config"], digest)
    if simulated is None:  # no complete run of this row yet: simulate it
        try:
            ds = cm.simulate(spec["config"])
        except Exception as error:  # reported as a row, the study goes on (but Ctrl-C stops it)
            if interrupted_in_kernel(error):
                raise KeyboardInterrupt from error
            message = " ".join(f"{type(error).__name__}: {error}".split())[:300]
            prefix = "failed" if spec["option"] == "baseline" else "not available"
            return _record(spec, f"{prefix}: {message}")
        simulated = time.perf_counter() - started
        write_run_directory(folder, spec["config"], ds, summary_of(ds), force=True)
        (folder / "material.sha256").write_text(digest + "\n")
    else:  # a run directory written before the measurement of a previous attempt stopped
        started -= simulated
    figures, peak = het.heterogeneity_figures(open_run(folder), **spec["measurement"])
    peak = {k: (np.asarray(v).tolist() if k != "components" else [np.asarray(c).tolist() for c in v])
            for k, v in peak.items()}
    wall = time.perf_counter() - started
    cached.write_text(json.dumps({"config": spec["config"], "measurement": spec["measurement"],
                                  "material_sha256": digest, "figures": figures,
                                  "peak": peak, "wall_s": wall, "simulate_s": simulated}, indent=1))
    return _record(spec, "ok", figures=figures, peak=peak, wall_s=wall, run_dir=str(folder), cached=False)


def run_rows(specs: list[dict], out: Path, jobs: int) -> list[dict]:
    """compute_row for every spec (in `jobs` processes when jobs > 1), with a progress bar
    over the runs; records in the order of specs."""
    from tqdm.auto import tqdm

    records = {}
    bar = tqdm(total=len(specs), desc="runs", unit="run")
    if jobs <= 1:
        for spec in specs:
            bar.set_postfix_str(spec["key"], refresh=True)
            records[spec["key"]] = compute_row(spec, str(out))
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(compute_row, spec, str(out)): spec["key"] for spec in specs}
            for future in as_completed(futures):
                records[futures[future]] = future.result()
                bar.set_postfix_str(futures[future], refresh=False)
                bar.update(1)
    bar.close()
    return [records[spec["key"]] for spec in specs]


# ---------------------------------------------------------------------------------------
# table
# ---------------------------------------------------------------------------------------
def _text(value, fmt: str) -> str:
    if isinstance(value, list):
        return "; ".join(_text(v, fmt) for v in value)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return fmt.format(int(value) if fmt == "{:d}" else value)


def identity(record: dict) -> list[str]:
    return [record["material"].upper(), record["shape"], rate_text(record["c_rate"]), record["option"], record["grid"]]


def write_tables(records: list[dict], out: Path, name: str = "table") -> str:
    """name.md (Markdown) and name.csv (one line per row, numbers unformatted; lists
    joined by ';'). Returns the Markdown table."""
    head = ["material", "shape", "rate", "option", "grid", "status"] + [title for title, _, _ in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    with open(out / f"{name}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["material", "shape", "c_rate", "option", "voxel_nm", "cells", "status", "wall_s"]
                        + [key for _, key, _ in COLUMNS])
        for r in records:
            figures = r.get("figures", {})
            cells = [_text(figures.get(key), fmt) for _, key, fmt in COLUMNS]
            lines.append("| " + " | ".join(identity(r) + [r["status"]] + cells) + " |")
            raw = [";".join(f"{v:.6g}" for v in figures[key]) if isinstance(figures.get(key), list)
                   else figures.get(key, "") for _, key, _ in COLUMNS]
            writer.writerow([r["material"], r["shape"], r["c_rate"], r["option"], r["voxel_nm"] or "",
                             r["cells"] or "", r["status"], f"{r.get('wall_s', float('nan')):.1f}"] + raw)
    table = "\n".join(lines) + "\n"
    (out / f"{name}.md").write_text(table)
    return table


# ---------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------
def _grid_of_axes(rows: int, cols: int, size=(2.4, 1.9)):
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=(size[0] * cols + 1.0, size[1] * rows + 0.8), squeeze=False,
                        constrained_layout=True)


def plot_peaks(records: list[dict], out: Path, shape: str) -> Path | None:
    """Small multiples of the (003) peak at 4.5 V: rows material x option, columns C-rate;
    the synthetic profile (black), the BIC components (coloured) with their c."""
    from chemomech.plotting import save_figure

    chosen = [r for r in records if r["shape"] == shape]
    if not chosen:
        return None
    rows = sorted({(r["material"], r["option"]) for r in chosen}, key=lambda k: (k[0], het.OPTIONS.index(k[1])))
    rates = sorted({r["c_rate"] for r in chosen})
    fig, axes = _grid_of_axes(len(rows), len(rates))
    for r in chosen:
        ax = axes[rows.index((r["material"], r["option"])), rates.index(r["c_rate"])]
        ax.set_title(f"{r['material'].upper()} {rate_text(r['c_rate'])} {r['option']}", fontsize=7)
        ax.tick_params(labelsize=6)
        if r["status"] != "ok":
            ax.text(0.5, 0.5, r["status"][:60], ha="center", va="center", fontsize=5, wrap=True, transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        peak, figures = r["peak"], r["figures"]
        t = np.asarray(peak["two_theta"])
        scale = max(np.max(peak["intensity"]), 1e-300)
        ax.plot(t, np.asarray(peak["intensity"]) / scale, "k-", lw=1.0)
        for c, component, weight in zip(figures["c_components_A"], peak["components"], figures["weights"]):
            ax.plot(t, (np.asarray(component) + np.asarray(peak["background"])) / scale, "--", lw=0.8,
                    label=f"c {c:.3f} A ({weight:.2f})")
        ax.legend(fontsize=5, loc="upper left", frameon=False)
        top = t[np.asarray(peak["intensity"]) > 0.01 * scale]
        if top.size:
            pad = 0.3 * (top[-1] - top[0]) + 0.01
            ax.set_xlim(top[0] - pad, top[-1] + pad)
    for ax in axes[-1]:
        ax.set_xlabel("2 theta (deg), 0.1173 A", fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("I / max", fontsize=7)
    fig.suptitle(f"(003) at 4.5 V, {shape}:\nsynthetic powder profile (black),\nBIC components (dashed)", fontsize=8)
    return save_figure(fig, out / f"peaks_003_{shape}.png")


def plot_slices(records: list[dict], out: Path, material: str, shape: str) -> Path | None:
    """Small multiples of x on the x-z mid-plane (holding the c axis) at 4.5 V: rows
    option, columns C-rate (plotting.slices.mid_plane and centred_extent); one colour scale
    over all panels, from the smallest to the largest x shown."""
    from chemomech.io.results import open_run
    from chemomech.plotting import save_figure
    from chemomech.plotting.slices import axis_label, centred_extent, mid_plane

    chosen = [r for r in records if r["material"] == material and r["shape"] == shape and r["cells"] is None]
    if not chosen:
        return None
    options = sorted({r["option"] for r in chosen}, key=het.OPTIONS.index)
    rates = sorted({r["c_rate"] for r in chosen})
    cuts = {}
    for r in chosen:
        if r["status"] == "ok":
            with open_run(r["run_dir"]) as ds:
                cuts[r["key"]] = (mid_plane(ds["x_li"].isel(snapshot=-1), "xz").values,
                                  centred_extent(ds["x"].values, ds["z"].values))
    shown = [values for values, _ in cuts.values() if np.isfinite(values).any()]
    low = min((float(np.nanmin(v)) for v in shown), default=0.0)
    high = max((float(np.nanmax(v)) for v in shown), default=1.0)
    fig, axes = _grid_of_axes(len(options), len(rates), size=(2.3, 2.2))
    image = None
    for r in chosen:
        ax = axes[options.index(r["option"]), rates.index(r["c_rate"])]
        ax.set_title(f"{rate_text(r['c_rate'])} {r['option']}", fontsize=7)
        ax.tick_params(labelsize=6)
        if r["key"] not in cuts:
            ax.text(0.5, 0.5, r["status"][:60], ha="center", va="center", fontsize=5, transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        values, extent = cuts[r["key"]]
        image = ax.imshow(values, origin="lower", extent=extent, cmap="viridis", vmin=low, vmax=max(high, low + 1e-6),
                          interpolation="nearest")
        ax.set_xlabel(axis_label("x"), fontsize=6)
        ax.set_ylabel(axis_label("z"), fontsize=6)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="Li fraction x (-)")
    fig.suptitle(f"{material.upper()} {shape}: x on the x-z mid-plane\nat 4.5 V (c axis along z)", fontsize=8)
    return save_figure(fig, out / f"slices_x_{material}_{shape}.png")


# ---------------------------------------------------------------------------------------
# the study's statements next to the model
# ---------------------------------------------------------------------------------------
def _pair(records, shape, option, c_rate):
    found = {r["material"]: r for r in records
             if r["shape"] == shape and r["option"] == option and r["c_rate"] == c_rate and r["status"] == "ok"}
    return found.get("nc91"), found.get("nm91")


def _compare(nc, nm, key, higher: bool, fmt="{:.3g}") -> str:
    """'NC91 / NM91 -> yes|no' for "NM91 higher" (higher=True) or "NM91 lower"."""
    a, b = nc["figures"].get(key), nm["figures"].get(key)
    if key == "split_onset_V" and not (math.isfinite(a) and math.isfinite(b)):
        # NaN: the (003) peak never splits; splitting at all counts as splitting earlier
        verdict = "yes" if math.isfinite(b) else ("no" if math.isfinite(a) else "neither splits")
        return f"{_text(a, fmt)} / {_text(b, fmt)}: {verdict}"
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return f"{_text(a, fmt)} / {_text(b, fmt)}: -"
    if a == b:
        return f"{fmt.format(a)} / {fmt.format(b)}: equal"
    agrees = b > a if higher else b < a
    return f"{fmt.format(a)} / {fmt.format(b)}: {'yes' if agrees else 'no'}"


def qualitative_section(records: list[dict]) -> str:
    """Markdown: the study's statement, then per shape and option a table over C-rate of
    the measures that test it (each cell NC91 / NM91 and whether the model agrees)."""
    lines = ["## The study's statement and each model variant", "", STUDY_STATEMENTS, "",
             "Each cell: NC91 / NM91 at 4.5 V, then whether the model says what the study says "
             "(yes / no / equal; - where a figure is missing). Measures: heterogeneity = std of x, TXM white-line std and "
             "SXDM d-spacing std, NM91 higher; the shell over-charging first = the (003) peak splitting at a lower "
             "voltage in NM91, and a larger volume beyond 91 % SoC in NM91 (although NM91 reaches a lower mean SoC); "
             "two coexisting lattices = the number of (003) components of NM91 at 4.5 V and the spread of their c "
             "(largest minus smallest, % of the largest). Nothing was tuned to these.", ""]
    shapes = [s for s in STUDY_SHAPES if any(r["shape"] == s for r in records)]
    for shape in shapes:
        for option in het.OPTIONS:
            rates = sorted({r["c_rate"] for r in records if r["shape"] == shape and r["option"] == option})
            if not rates:
                continue
            lines += [f"### {shape}, {option}", ""]
            head = ["rate", "x std", "XANES std [eV]", "SXDM d std [%]", "(003) splits at [V] (lower in NM91)",
                    "vol. beyond 91 % SoC", "NM91 (003) components, c spread [%]"]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for c_rate in rates:
                nc, nm = _pair(records, shape, option, c_rate)
                if nc is None or nm is None:
                    missing = [r["status"] for r in records if r["shape"] == shape and r["option"] == option
                               and r["c_rate"] == c_rate and r["status"] != "ok"]
                    lines.append(f"| {rate_text(c_rate)} | " + (missing[0] if missing else "both materials needed")
                                 + " |" * (len(head) - 1))
                    continue
                c = nm["figures"]["c_components_A"]
                spread = 100.0 * (max(c) - min(c)) / max(c)
                cells = [_compare(nc, nm, "x_std", True), _compare(nc, nm, "xanes_white_line_std_eV", True),
                         _compare(nc, nm, "sxdm_d_rel_std_pct", True), _compare(nc, nm, "split_onset_V", False, "{:.3f}"),
                         _compare(nc, nm, "fraction_beyond_91", True),
                         f"{nm['figures']['n_components']}, {spread:.2f} %: "
                         f"{'yes' if nm['figures']['n_components'] > 1 else 'no'}"]
                lines.append(f"| {rate_text(c_rate)} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# convergence
# ---------------------------------------------------------------------------------------
def geometry_of(record: dict) -> str:
    """"voxel sphere", "sphere-1d" (uniform cells) or "sphere-1d graded" (towards the surface)."""
    if record["cells"] is None:
        return "voxel sphere"
    return "sphere-1d graded" if record.get("graded") else "sphere-1d"


def convergence_table(records: list[dict], out: Path) -> str:
    """Each scalar figure vs grid per (material, geometry, rate, option), and the relative
    change between the two finest grids. Writes convergence.md / .csv; returns the Markdown."""
    groups = {}
    for r in records:
        groups.setdefault((r["material"], geometry_of(r), r["c_rate"], r["option"]), []).append(r)
    lines = ["| material | geometry | rate | option | figure | values (coarse -> fine) | relative change, two finest |",
             "|---|---|---|---|---|---|---|"]
    with open(out / "convergence.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["material", "geometry", "c_rate", "option", "figure", "grids", "values", "relative_change_finest"])
        for (material, geometry, c_rate, option), rows in groups.items():
            # coarse -> fine: voxels from large to small, cells from few to many
            rows = sorted(rows, key=lambda r: -r["voxel_nm"] if geometry == "voxel sphere" else r["cells"])
            ok = [r for r in rows if r["status"] == "ok"]
            grids = " / ".join(r["grid"] for r in rows)
            failed = [f"{r['grid']}: {r['status']}" for r in rows if r["status"] != "ok"]
            for key in SCALAR_FIGURES:
                values = [r["figures"].get(key, math.nan) if r["status"] == "ok" else math.nan for r in rows]
                change = math.nan
                if len(ok) >= 2 and rows[-1]["status"] == "ok" and rows[-2]["status"] == "ok":
                    fine, next_ = values[-1], values[-2]
                    if math.isfinite(fine) and math.isfinite(next_) and fine != 0:
                        change = (fine - next_) / abs(fine)
                    elif fine == next_:
                        change = 0.0
                text = " / ".join(_text(v, "{:.4g}") for v in values)
                lines.append(f"| {material.upper()} | {geometry} | {rate_text(c_rate)} | {option} | {key} | "
                             f"{grids}: {text} | {_text(change, '{:+.2%}')} |")
                writer.writerow([material, geometry, c_rate, option, key, grids, ";".join(f"{v:.6g}" for v in values),
                                 change])
            if failed:
                lines.append(f"| {material.upper()} | {geometry} | {rate_text(c_rate)} | {option} | (runs) | "
                             + "; ".join(failed) + " | |")
    table = "\n".join(lines) + "\n"
    (out / "convergence.md").write_text(table)
    return table


def plot_convergence(records: list[dict], out: Path) -> list[Path]:
    """One figure per geometry: a panel per scalar figure vs grid (voxel edge [nm] or radial
    cells), a line per material x rate x option."""
    from chemomech.plotting import save_figure

    paths = []
    for geometry in ("voxel sphere", "sphere-1d", "sphere-1d graded"):
        grid_of = (lambda r: r["voxel_nm"]) if geometry == "voxel sphere" else (lambda r: r["cells"])
        chosen = [r for r in records if geometry_of(r) == geometry and r["status"] == "ok"]
        if not chosen:
            continue
        cols = 4
        rows = math.ceil(len(SCALAR_FIGURES) / cols)
        fig, axes = _grid_of_axes(rows, cols, size=(2.6, 2.0))
        lines = sorted({(r["material"], r["c_rate"], r["option"]) for r in chosen})
        for i, key in enumerate(SCALAR_FIGURES):
            ax = axes.flat[i]
            for material, c_rate, option in lines:
                pts = sorted((grid_of(r), r["figures"][key]) for r in chosen
                             if (r["material"], r["c_rate"], r["option"]) == (material, c_rate, option))
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=3, lw=1,
                        label=f"{material.upper()} {rate_text(c_rate)} {option}")
            ax.set_xscale("log")
            ax.set_title(key, fontsize=7)
            ax.tick_params(labelsize=6)
            ax.set_xlabel("voxel edge (nm)" if geometry == "voxel sphere" else "radial cells", fontsize=6)
        for ax in list(axes.flat)[len(SCALAR_FIGURES):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=5, frameon=False)
        fig.suptitle(f"figures at 4.5 V vs grid ({geometry}, R = {RADIUS_UM:g} um)", fontsize=9)
        name = {"voxel sphere": "voxel", "sphere-1d": "sphere-1d", "sphere-1d graded": "sphere-1d-graded"}[geometry]
        paths.append(save_figure(fig, out / f"convergence_{name}.png"))
    return paths


# ---------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------
def _list(text: str, kind=str) -> tuple:
    return tuple(kind(item.strip()) for item in text.split(",") if item.strip())


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--materials", default="nc91,nm91", help="comma-separated materials (default nc91,nm91)")
    parser.add_argument("--rates", default=None, help="comma-separated C-rates in 1/h (default 0.1,0.5,1,2; "
                                                      "--convergence: 1,2; --quick: 1,2)")
    parser.add_argument("--options", default=None, help="comma-separated of " + ",".join(het.OPTIONS)
                        + " (default all five; --quick: baseline)")
    parser.add_argument("--voxel-nm", type=float, default=None, help="voxel edge in nm (default 50; --quick: 250)")
    parser.add_argument("--shapes", default=None, help="comma-separated of " + ",".join(STUDY_SHAPES)
                        + " (default all three; --quick: sphere)")
    parser.add_argument("--convergence", action="store_true", help="the figures vs grid at 1C and 2C")
    parser.add_argument("--voxel-sizes", default=None,
                        help="--convergence: comma-separated voxel edges in nm (default "
                             + ",".join(f"{v:g}" for v in CONVERGENCE_VOXEL_NM) + "); e.g. the coarse ones first")
    parser.add_argument("--cells", default=None,
                        help="--convergence: comma-separated radial cell counts of the 1-D sphere (default "
                             + ",".join(map(str, CONVERGENCE_CELLS)) + f"); the study's sphere-1d rows: the last "
                             f"one (default {STUDY_CELLS})")
    parser.add_argument("--quick", action="store_true", help="a tiny version for development and tests")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel processes (default 1)")
    args = parser.parse_args(argv)
    args.cells_given = args.cells is not None
    args.materials = _list(args.materials)
    default_rates = CONVERGENCE_RATES if args.convergence else (0.1, 0.5, 1.0, 2.0)
    args.rates = _list(args.rates, float) if args.rates else (QUICK["rates"] if args.quick else default_rates)
    args.options = _list(args.options) if args.options else (QUICK["options"] if args.quick else het.OPTIONS)
    unknown = [o for o in args.options if o not in het.OPTIONS]
    if unknown:
        parser.error(f"unknown option {unknown[0]!r}; allowed: {', '.join(het.OPTIONS)}")
    if args.voxel_nm is None:
        args.voxel_nm = QUICK["voxel_nm"] if args.quick else 50.0
    args.shapes = _list(args.shapes) if args.shapes else (("sphere",) if args.quick else STUDY_SHAPES)
    if any(shape not in STUDY_SHAPES for shape in args.shapes):
        parser.error(f"unknown shape in --shapes {','.join(args.shapes)!r}; allowed: {', '.join(STUDY_SHAPES)}")
    args.voxel_sizes = _list(args.voxel_sizes, float) if args.voxel_sizes else (
        QUICK["convergence_voxel_nm"] if args.quick else CONVERGENCE_VOXEL_NM)
    args.cells = _list(args.cells, int) if args.cells else (
        QUICK["convergence_cells"] if args.quick else CONVERGENCE_CELLS)
    if any(n < 2 for n in args.cells):
        parser.error(f"--cells {','.join(map(str, args.cells))}: radial cell counts must be >= 2")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    snapshots = QUICK["snapshots"] if args.quick else SNAPSHOTS
    measurement = QUICK["measurement"] if args.quick else STUDY_MEASUREMENT
    started = time.perf_counter()
    if args.convergence:
        voxels, cells = args.voxel_sizes, args.cells
        specs = convergence_specs(args.materials, args.rates, args.options, voxels, cells, snapshots, measurement)
        records = run_rows(specs, out, args.jobs)
        write_tables(records, out, "convergence_rows")
        table = convergence_table(records, out)
        figures = plot_convergence(records, out)
        report = ["# Grid convergence of the heterogeneity figures", "",
                  f"Sphere of radius {RADIUS_UM:g} um at {', '.join(rate_text(r) for r in args.rates)}, voxels "
                  f"{', '.join(f'{v:g}' for v in voxels)} nm; 1-D sphere on {', '.join(map(str, cells))} cells, "
                  f"uniform and graded towards the surface (outermost cell radius / ({GRADING:g} cells)). "
                  "Relative change between the two finest grids: (f_finest - f_next) / |f_finest|. SXDM (50 nm "
                  "raster) and TXM (40 nm voxels) resample the run onto their own grids; the (003) split voltage "
                  "moves in steps of the snapshot spacing.", "", table, ""]
        report += [f"![{p.stem}]({p.name})" for p in figures]
        (out / "convergence_report.md").write_text("\n".join(report) + "\n")
    else:
        shapes = args.shapes
        study_cells = args.cells[-1] if args.cells_given else (QUICK["convergence_cells"][-1] if args.quick
                                                                else STUDY_CELLS)
        specs = study_specs(args.materials, args.rates, args.options, args.voxel_nm, snapshots, shapes, measurement,
                            study_cells)
        records = run_rows(specs, out, args.jobs)
        table = write_tables(records, out)
        figures = [plot_peaks(records, out, shape) for shape in shapes]
        figures += [plot_slices(records, out, m, shape) for m in args.materials for shape in shapes]
        figures = [p for p in figures if p is not None]
        platelet = het.platelet_radius_um(RADIUS_UM)
        report = ["# C-rate heterogeneity of single crystals at 4.5 V", "",
                  f"Sphere of radius {RADIUS_UM:g} um" + ("" if "platelet" not in shapes else
                  f" and the hexagonal platelet of the same volume (circumradius {platelet:.3f} um, aspect "
                  f"{het.PLATELET_ASPECT:g})") + f", c axis along z, {args.voxel_nm:g} nm voxels"
                  + ("" if "sphere-1d" not in shapes else
                     f"; the 1-D sphere of the same radius on {study_cells} radial cells (isotropic D(x), no SXDM)")
                  + f"; constant-current charge to 4.5 V, {snapshots} snapshots. Definitions: "
                  "chemomech/validation/heterogeneity.py.",
                  "", table, "", qualitative_section(records), ""]
        report += [f"![{p.stem}]({p.name})" for p in figures]
        (out / "report.md").write_text("\n".join(report) + "\n")
    counts = {}
    for r in records:
        counts[r["status"].split(":")[0]] = counts.get(r["status"].split(":")[0], 0) + 1
    print(f"{len(records)} rows ({', '.join(f'{v} {k}' for k, v in counts.items())}) in "
          f"{time.perf_counter() - started:.1f} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
