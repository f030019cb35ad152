"""The per-run heterogeneity figures (chemomech/validation/heterogeneity.py) and the C-rate
heterogeneity study script (validation/rate_heterogeneity.py).

Planted fields, where the answer is known by construction, check the figures themselves;
a tiny voxel run checks that they are consistent on a real run; the --quick script path
is run end to end."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import xarray as xr

from chemomech.materials.material import load_material, material_path
from chemomech.validation import heterogeneity as het

REPOSITORY = Path(__file__).resolve().parents[1]
SCRIPT = REPOSITORY / "validation" / "rate_heterogeneity.py"
VOXEL_M = 100e-9
RADIUS_VOXELS = 10  # planted spheres: radius 1 um on 100 nm voxels


def planted_dataset(x_field: np.ndarray, material: str = "nc91", voxel_m: float = VOXEL_M) -> xr.Dataset:
    """A result-like Dataset holding one snapshot of a planted Li field x(z, y, x) (NaN
    outside the particle), no elastic strain, and the material file's text (so that
    io.results.run_material rebuilds the material exactly as for a run)."""
    n = x_field.shape[0]
    centres = (np.arange(n) - (n - 1) / 2.0) * voxel_m
    mat = load_material(material)
    x_mean = float(np.nanmean(x_field))
    return xr.Dataset(
        {"x_li": (("snapshot", "z", "y", "x"), x_field[None].astype(np.float32), {"units": "1"})},
        coords={"snapshot": [0], "z": centres, "y": centres, "x": centres,
                "snapshot_soc": ("snapshot", [float(mat.soc_of_x(x_mean))]),
                "snapshot_voltage": ("snapshot", [4.5]), "snapshot_time": ("snapshot", [0.0])},
        attrs={"config": tomli_w.dumps({"material": material}), "material": mat.name,
               "material_toml": material_path(material).read_text()},
    )


def sphere_radius_map(n: int = 2 * RADIUS_VOXELS + 2) -> np.ndarray:
    """Distance of each voxel centre from the box centre, in voxels, (n, n, n)."""
    centres = np.arange(n) - (n - 1) / 2.0
    z, y, x = np.meshgrid(centres, centres, centres, indexing="ij")
    return np.sqrt(x * x + y * y + z * z)


def uniform_sphere(x_value: float) -> np.ndarray:
    r = sphere_radius_map()
    return np.where(r <= RADIUS_VOXELS, x_value, np.nan)


# ---------------------------------------------------------------------------------------
# definitions
# ---------------------------------------------------------------------------------------
def test_x_at_soc_inverts_soc_of_x():
    """x_91 is the x of a uniform particle at 91 % nominal SoC (Material.soc_of_x)."""
    for name in ("nc91", "nm91"):
        mat = load_material(name)
        assert mat.soc_of_x(het.x_at_soc(mat, 0.91)) == pytest.approx(0.91, abs=1e-12)


def test_platelet_has_the_volume_of_the_sphere():
    """Closed form: 3 sqrt(3) R_p^3 / aspect = 4/3 pi R^3; and on voxels, the platelet mask
    of geometry.voxel holds the sphere mask's voxel count within 2 % (staircase error at
    100 nm voxels of a 2 um particle)."""
    from chemomech.geometry.voxel import single_crystal

    radius, aspect = 2.0, het.PLATELET_ASPECT
    rp = het.platelet_radius_um(radius, aspect)
    assert 3.0 * math.sqrt(3.0) * rp**3 / aspect == pytest.approx(4.0 / 3.0 * math.pi * radius**3, rel=1e-12)
    sphere = single_crystal("sphere", radius * 1e-6, 100e-9, np.eye(3))
    platelet = single_crystal("platelet", rp * 1e-6, 100e-9, np.eye(3), aspect=aspect)
    assert np.sum(platelet.grain >= 0) == pytest.approx(np.sum(sphere.grain >= 0), rel=0.02)


def test_run_config_options():
    assert "physics" not in het.run_config("nc91", 1.0, "baseline")
    assert het.run_config("nc91", 1.0, "slab_spacing_diffusivity")["physics"] == {"slab_spacing_diffusivity": True}
    assert het.run_config("nc91", 1.0, "all")["physics"] == {name: True for name in het.COUPLINGS}
    platelet = het.run_config("nm91", 0.5, shape="platelet")["particle"]
    assert platelet["radius_um"] == pytest.approx(het.platelet_radius_um(2.0))
    assert het.run_config("nc91", 1.0, cells=400)["particle"] == {"geometry": "sphere-1d", "radius_um": 2.0,
                                                                   "cells": 400}
    with pytest.raises(ValueError):
        het.physics_table("unknown")


def test_weighted_percentile_is_the_inverted_cdf():
    """Equal weights: the lower percentile of numpy ("inverted_cdf"); weights count as
    repeated samples."""
    values = np.array([3.0, 1.0, 2.0, 5.0, 4.0])
    for q in (5, 20, 50, 95):
        assert het.weighted_percentile(values, np.ones(5), q) == np.percentile(values, q, method="inverted_cdf")
    assert het.weighted_percentile([1.0, 2.0], [1.0, 9.0], 5) == 1.0  # the first 10 % of the volume is x = 1
    assert het.weighted_percentile([1.0, 2.0], [1.0, 9.0], 50) == 2.0


def test_half_maximum_width_of_a_gaussian():
    """FWHM of a Gaussian of standard deviation s is 2 sqrt(2 ln 2) s."""
    t = np.linspace(-1.0, 1.0, 2001)
    s = 0.05
    assert het.half_maximum_width(t, np.exp(-0.5 * (t / s) ** 2)) == pytest.approx(2 * math.sqrt(2 * math.log(2)) * s,
                                                                                    rel=1e-4)


# ---------------------------------------------------------------------------------------
# planted fields
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("x_value, beyond", [(0.30, 0.0), (0.05, 1.0)])
def test_uniform_field(x_value, beyond):
    """A uniform x: std 0, both percentiles x; the whole volume beyond 91 % SoC when x is
    below x_91 (NC91: x_91 = 0.998 - 0.91 x 270 / 274.4 = 0.102), none when above; (003) one
    component at c(x) (no elastic strain planted); TXM white-line std 0 (noise-free fit of
    identical spectra)."""
    ds = planted_dataset(uniform_sphere(x_value))
    mat = load_material("nc91")
    figures, _ = het.heterogeneity_figures(ds, sxdm=False, xanes=True, onset=True, xanes_voxel_nm=100.0)
    assert figures["x_std"] == pytest.approx(0.0, abs=1e-7)
    assert figures["x_p5"] == figures["x_p95"] == pytest.approx(x_value, abs=1e-7)
    assert figures["fraction_beyond_91"] == pytest.approx(beyond, abs=1e-12)
    assert figures["n_components"] == 1
    assert figures["c_components_A"][0] == pytest.approx(float(mat.lattice_c(x_value)), abs=5e-3)
    assert figures["weights"] == [1.0]
    assert math.isnan(figures["split_onset_V"])
    assert figures["xanes_white_line_std_eV"] == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(figures["sxdm_d_rel_std_pct"])


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` under a minute
def test_two_valued_field_gives_two_components():
    """Core x = 0.8 (c = 14.26 A, H2) inside a shell x = 0.08 (c = 13.56 A, collapsed H3),
    no elastic strain: the (003) peak needs two components (BIC), at the planted c(x) of
    each (within 5e-3 A: the pattern's 0.001 deg grid keeps the first moment exact and the
    instrument profile is symmetric), with weights equal to each part's share of the
    integrated (003) intensity: volume fraction f_k times I_k, the (003) intensity per unit
    volume of the uniform phase (reflection_intensity of xrd on the uniform field; |F|^2
    depends on x, so the weights are not the volume fractions themselves), within 0.01.
    The shell lies beyond 91 % SoC (x = 0.08 < x_91 = 0.102), the core not: the volume
    beyond is the shell's voxel fraction."""
    from chemomech.observables.powder_xrd import xrd

    x_core, x_shell = 0.8, 0.08
    r = sphere_radius_map()
    field = np.where(r <= 0.7 * RADIUS_VOXELS, x_core, np.where(r <= RADIUS_VOXELS, x_shell, np.nan))
    solid = np.isfinite(field)
    fractions = np.array([np.sum(field[solid] == x_shell), np.sum(field[solid] == x_core)]) / solid.sum()
    per_volume = np.array([float(xrd(planted_dataset(uniform_sphere(x)))["reflection_intensity"].sel(reflection="003")[0])
                           for x in (x_shell, x_core)])
    expected_weights = fractions * per_volume / np.sum(fractions * per_volume)  # ordered by 2 theta: shell (small c) last
    mat = load_material("nc91")
    figures, peak = het.heterogeneity_figures(planted_dataset(field), sxdm=False, xanes=False, onset=False)
    assert figures["n_components"] == 2
    # components are ordered by increasing 2 theta, i.e. decreasing c: core first
    assert figures["c_components_A"][0] == pytest.approx(float(mat.lattice_c(x_core)), abs=5e-3)
    assert figures["c_components_A"][1] == pytest.approx(float(mat.lattice_c(x_shell)), abs=5e-3)
    assert figures["weights"][0] == pytest.approx(expected_weights[1], abs=0.01)
    assert figures["weights"][1] == pytest.approx(expected_weights[0], abs=0.01)
    assert figures["fraction_beyond_91"] == pytest.approx(fractions[0])
    assert len(peak["components"]) == 2


# ---------------------------------------------------------------------------------------
# a tiny voxel run
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run():
    """NC91 single crystal, R = 2 um on 400 nm voxels (10 across), 1C to 4.5 V, 5 snapshots."""
    import chemomech as cm

    return cm.simulate(het.run_config("nc91", 1.0, voxel_nm=400.0, snapshots=5))


@pytest.mark.slow
def test_figures_of_a_tiny_voxel_run(tiny_run):
    """Consistency on a real run (~10 s: SXDM and TXM at the study's grids): the volume-mean
    x gives back the SoC from the charge passed (Li balance; x stored as float32), the
    percentiles bracket the mean, the components' weights add to 1 and their c lie in the
    material's c range, the split (if any) happens during the charge."""
    ds = tiny_run
    mat = load_material("nc91")
    figures, peak = het.heterogeneity_figures(ds)
    assert set(het.FIGURES) <= set(figures)
    assert figures["voltage_end"] == pytest.approx(4.5, abs=1e-3)
    assert float(mat.soc_of_x(figures["x_mean"])) == pytest.approx(figures["soc_end"], abs=2e-3)
    assert figures["x_p5"] <= figures["x_mean"] <= figures["x_p95"]
    assert figures["x_std"] > 0
    assert 0.0 <= figures["fraction_beyond_91"] <= 1.0
    assert 1 <= figures["n_components"] <= 3
    assert sum(figures["weights"]) == pytest.approx(1.0)
    c_table = mat.lattice_c(np.linspace(0, 1, 1001))
    for c in figures["c_components_A"]:
        assert 0.97 * c_table.min() < c < 1.03 * c_table.max()
    onset = figures["split_onset_V"]
    assert math.isnan(onset) or float(ds["snapshot_voltage"][0]) <= onset <= figures["voltage_end"] + 1e-9
    for key in ("sxdm_d_rel_std_pct", "sxdm_tilt_y_std_deg", "sxdm_tilt_z_std_deg", "xanes_white_line_std_eV"):
        assert math.isfinite(figures[key]) and figures[key] > 0, key
    assert figures["fwhm_003_deg"] > 0.0 and len(peak["components"]) == figures["n_components"]


# ---------------------------------------------------------------------------------------
# the script
# ---------------------------------------------------------------------------------------
def load_script():
    spec = importlib.util.spec_from_file_location("rate_heterogeneity", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_unavailable_options_become_rows(tmp_path, monkeypatch):
    """An option reported unavailable before running, or a run that raises, is a row
    "not available: <reason>" (a baseline that raises: "failed: <reason>"); nothing is
    cached for it."""
    import chemomech as cm

    script = load_script()
    spec = script.row_spec("nm91", "sphere", 1.0, "phase_separation", voxel_nm=400.0, snapshots=3)
    monkeypatch.setattr(het, "option_unavailable", lambda *args: "NM91 has no [phase_separation] table")
    assert script.compute_row(spec, str(tmp_path))["status"] == "not available: NM91 has no [phase_separation] table"

    def refuse(config, **kwargs):
        raise TypeError("run_voxels() got an unexpected keyword argument 'physics'")

    monkeypatch.setattr(het, "option_unavailable", lambda *args: None)
    monkeypatch.setattr(cm, "simulate", refuse)
    record = script.compute_row(spec, str(tmp_path))
    assert record["status"] == "not available: TypeError: run_voxels() got an unexpected keyword argument 'physics'"
    baseline = script.row_spec("nm91", "sphere", 1.0, "baseline", voxel_nm=400.0, snapshots=3)
    assert script.compute_row(baseline, str(tmp_path))["status"].startswith("failed: TypeError")
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_inside_a_kernel_stops_the_study(tmp_path, monkeypatch):
    """Ctrl-C while a compiled kernel runs arrives as a SystemError caused by
    KeyboardInterrupt: compute_row lets it through as KeyboardInterrupt (the study stops),
    instead of reporting the row "not available" and going on; nothing is cached."""
    import chemomech as cm

    script = load_script()
    spec = script.row_spec("nc91", "sphere", 1.0, "all", voxel_nm=400.0, snapshots=3)

    def interrupted(config, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as stop:
            raise SystemError("<built-in function bicgstab> returned a result with an exception set") from stop

    monkeypatch.setattr(het, "option_unavailable", lambda *args: None)
    monkeypatch.setattr(cm, "simulate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        script.compute_row(spec, str(tmp_path))
    assert not (tmp_path / "runs").exists()


def test_grid_and_shape_choices_of_the_command_line():
    """--voxel-sizes, --cells and --shapes choose what the study and --convergence run;
    without them the defaults of the script (and of --quick) hold; a bad shape is a usage
    error naming the allowed ones."""
    script = load_script()
    args = script.parse_args(["--convergence", "--voxel-sizes", "100,71", "--cells", "25,50"])
    assert args.voxel_sizes == (100.0, 71.0) and args.cells == (25, 50)
    defaults = script.parse_args([])
    assert defaults.voxel_sizes == script.CONVERGENCE_VOXEL_NM and defaults.cells == script.CONVERGENCE_CELLS
    assert defaults.shapes == ("sphere", "platelet", "sphere-1d") and script.parse_args(["--quick"]).shapes == ("sphere",)
    assert script.parse_args(["--shapes", "platelet"]).shapes == ("platelet",)
    with pytest.raises(SystemExit):
        script.parse_args(["--shapes", "cube"])
    with pytest.raises(SystemExit):
        script.parse_args(["--cells", "1"])


def test_study_rows_of_the_1d_reference():
    """The study's sphere-1d rows run the 1-D sphere of the same radius on STUDY_CELLS radial
    cells graded towards the surface (outermost cell radius / (10 cells): 1 nm on 200 cells
    of 2 um) and share their keys with --convergence's graded rows, so one cache serves
    both; --convergence runs every cell count uniform and graded; voxel rows keep voxel_nm."""
    script = load_script()
    specs = script.study_specs(("nm91",), (1.0,), ("baseline", "all"), 50.0, 20, ("sphere", "sphere-1d"))
    one_d = [s for s in specs if s["shape"] == "sphere-1d"]
    assert [s["key"] for s in one_d] == ["nm91_sphere-1d_1C_baseline_200cells-graded1nm",
                                         "nm91_sphere-1d_1C_all_200cells-graded1nm"]
    assert one_d[0]["config"]["particle"] == {"geometry": "sphere-1d", "radius_um": 2.0, "cells": 200,
                                              "surface_cell_nm": 1.0}
    assert one_d[1]["config"]["physics"] == het.physics_table("all")
    voxel = [s for s in specs if s["shape"] == "sphere"]
    assert all(s["voxel_nm"] == 50.0 and s["cells"] is None and not s["graded"] for s in voxel)
    convergence = script.convergence_specs(("nm91",), (1.0,), ("baseline",), (), (200,), 20)
    assert [s["grid"] for s in convergence] == ["200cells", "200cells-graded1nm"]
    assert convergence[1]["key"] == one_d[0]["key"] and convergence[1]["config"] == one_d[0]["config"]
    records = [script._record(s, "ok") for s in convergence + specs]
    assert [script.geometry_of(r) for r in records] == ["sphere-1d", "sphere-1d graded", "voxel sphere",
                                                        "voxel sphere", "sphere-1d graded", "sphere-1d graded"]


def test_convergence_relative_change(tmp_path):
    """relative change between the two finest grids = (f_finest - f_next) / |f_finest|."""
    script = load_script()
    records = []
    for voxel, value in ((100.0, 0.5), (50.0, 0.44), (25.0, 0.40)):
        spec = script.row_spec("nc91", "sphere", 1.0, "baseline", voxel_nm=voxel)
        records.append(script._record(spec, "ok", figures={k: value for k in script.SCALAR_FIGURES}))
    script.convergence_table(records, tmp_path)
    rows = (tmp_path / "convergence.csv").read_text().splitlines()
    x_std = next(line for line in rows if ",x_std," in line)
    assert float(x_std.split(",")[-1]) == pytest.approx((0.40 - 0.44) / 0.40)


@pytest.mark.slow
def test_quick_study_end_to_end(tmp_path):
    """`python validation/rate_heterogeneity.py --quick` (~30-40 s on 2 shared cores): the
    table with its four rows (two materials x 1C, 2C; baseline), the CSV, the report with
    the study's statements, the figures; a rerun takes every row from its cache."""
    out = tmp_path / "quick"
    command = [sys.executable, str(SCRIPT), "--quick", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    table = (out / "table.md").read_text().splitlines()
    assert len(table) == 2 + 4 and all("| ok |" in line for line in table[2:])
    assert len((out / "table.csv").read_text().splitlines()) == 1 + 4
    report = (out / "report.md").read_text()
    assert "over-charges into the collapsed H3 lattice first" in report and "### sphere, baseline" in report
    for name in ("peaks_003_sphere.png", "slices_x_nc91_sphere.png", "slices_x_nm91_sphere.png"):
        assert (out / name).stat().st_size > 0
    rows = sorted((out / "runs").iterdir())
    assert len(rows) == 4 and all((row / "result.nc").is_file() and (row / "figures.json").is_file() for row in rows)
    stamps = [(row / "figures.json").stat().st_mtime_ns for row in rows]
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert [(row / "figures.json").stat().st_mtime_ns for row in rows] == stamps
    assert json.loads((rows[0] / "figures.json").read_text())["figures"]["soc_end"] > 0.5


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` under a minute
def test_a_complete_run_without_figures_is_measured_not_simulated(tmp_path, monkeypatch):
    """A study stopped after a row's simulation and before its measurement: the next
    attempt finds the complete run directory (same config, same material file) and only
    measures it; a different config or material file is simulated again."""
    import chemomech as cm

    script = load_script()
    spec = script.row_spec("nc91", "sphere", 2.0, "baseline", voxel_nm=400.0, snapshots=3,
                           measurement={"sxdm_beam_nm": 400.0, "sxdm_step_nm": 400.0, "xanes_voxel_nm": 400.0})
    first = script.compute_row(spec, str(tmp_path))
    assert first["status"] == "ok" and not first["cached"]
    folder = tmp_path / "runs" / spec["key"]
    (folder / "figures.json").unlink()

    def refuse(config, **kwargs):
        raise AssertionError("simulated again")

    monkeypatch.setattr(cm, "simulate", refuse)
    again = script.compute_row(spec, str(tmp_path))
    assert again["status"] == "ok" and again["figures"] == first["figures"]
    (folder / "figures.json").unlink()
    (folder / "material.sha256").write_text("another material file\n")
    assert script.finished_run_seconds(folder, spec["config"], script.material_sha256("nc91")) is None
    assert script.compute_row(spec, str(tmp_path))["status"].startswith("failed: AssertionError: simulated again")
