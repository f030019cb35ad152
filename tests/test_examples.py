"""The runnable examples of docs/examples/: each is imported by path, run, checked against
what its docstring says it must give, and drawn.

- charge_1d: SoC at 4.5 V at 1C within the study's calibration rows (0.78 / 0.66 +- 0.02,
  chemomech.validation.calibration.TARGETS and TOLERANCE);
- single_crystal_xrd: the fitted (003) peak at Bragg's angle of the particle-mean c from
  material.lattice_c(x) and the elastic strain, within one 2-theta grid step (0.001 deg);
- sweep_2x2: every point within its calibration row, and a point equal to a direct
  cm.simulate of the same configuration (1e-12);
- composition: the blend's end points (NC91 fraction 0 and 1) equal the end members' own
  runs bit for bit (a blend with one fraction 1 is that end member), for the capacity
  (1-D) and the x spread and (003) width (voxels);
- cycling: Li balance from the final field against the charge passed (1e-10 in x), CE
  bounded by the Li available, CE = 1 (1e-6) for repeated cycles, and the C/10 rows of
  the README's cycle table;
- the sample measured files of docs/examples/data/: readable by the readers, labelled
  SYNTHETIC, small, and - compared with the run they were made from - different only by
  their noise.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from chemomech.validation.calibration import TARGETS, TOLERANCE

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
DATA = EXAMPLES / "data"


def load_example(name: str):
    """Import docs/examples/<name>.py as module `examples_<name>`."""
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def assert_png(path: Path) -> None:
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_example_has_run_and_visualize():
    for path in sorted(EXAMPLES.glob("*.py")):
        module = load_example(path.stem)
        assert callable(module.run) and callable(module.visualize), path.name
        assert module.__doc__ and 'if __name__ == "__main__":' in path.read_text(), path.name


def test_charge_1d_meets_the_calibration_rows(tmp_path):
    example = load_example("charge_1d")
    result = example.run()
    for material, ds in result.items():
        soc = float(ds.attrs["soc_end"])
        assert abs(soc - TARGETS[material]["soc_1c"]) <= TOLERANCE["soc_1c"], (material, soc)
        assert ds.attrs["end_reason"] == "v_max" and ds.attrs["voltage_end"] == pytest.approx(4.5, abs=1e-4)
        assert ds.attrs["capacity_mAh_g"] == pytest.approx(270.0 * soc, rel=1e-12)  # the nominal basis
    assert result["nc91"].attrs["soc_end"] > result["nm91"].attrs["soc_end"]
    assert_png(example.visualize(result, tmp_path / "charge_1d.png"))


@pytest.mark.slow
def test_single_crystal_003_peak_follows_bragg(tmp_path):
    example = load_example("single_crystal_xrd")
    result = example.run()
    peak = result["peak_003"]
    fitted, bragg = peak.fitted_two_theta.values, peak.bragg_two_theta.values
    assert np.abs(fitted - bragg).max() < 1e-3  # one step of the pattern's 0.001 deg grid
    shift = fitted - fitted[0]
    turn = int(np.argmin(fitted))
    # c grows first (peak to lower angle), then collapses (to higher angle), by much more than 1e-3 deg
    assert 0 < turn < fitted.size - 1 and shift[turn] < -0.02 and shift[-1] > 0.05
    assert np.all(np.diff(bragg[: turn + 1]) < 0) and np.all(np.diff(bragg[turn:]) > 0)
    assert_png(example.visualize(result, tmp_path / "single_crystal_xrd.png"))


@pytest.mark.slow
def test_sweep_2x2_points_meet_the_calibration_rows(tmp_path):
    example = load_example("sweep_2x2")
    summary = example.run(tmp_path / "sweep", workers=1)
    assert (summary.status.values == "ok").all() and summary.attrs["points_run"] == 4
    for material in ("nc91", "nm91"):
        for c_rate, row in ((0.1, "soc_c10"), (1.0, "soc_1c")):
            soc = float(summary.soc_end.sel(material=material, c_rate=c_rate))
            assert abs(soc - TARGETS[material][row]) <= TOLERANCE[row], (material, c_rate, soc)
    direct = example.direct_run("nm91", 1.0)
    point = summary.sel(material="nm91", c_rate=1.0)
    assert float(point.soc_end) == pytest.approx(float(direct.attrs["soc_end"]), rel=1e-12)
    assert float(point.capacity_mAh_g) == pytest.approx(float(direct.attrs["capacity_mAh_g"]), rel=1e-12)
    assert_png(example.visualize(summary, tmp_path / "sweep_2x2.png"))


@pytest.mark.slow
def test_composition_end_points_are_the_end_members(tmp_path):
    """A quick version (two fractions, 250 nm voxels) of docs/examples/composition.py."""
    import copy

    import chemomech as cm

    example = load_example("composition")
    result = example.run(tmp_path / "composition", fractions=[0.0, 1.0], voxel_nm=250.0, workers=1)
    capacity, heterogeneity = result["capacity"], result["heterogeneity"]
    assert (capacity.status.values == "ok").all() and (heterogeneity.status.values == "ok").all()
    for fraction, member in ((0.0, "nm91"), (1.0, "nc91")):
        for name, ds, figure in (("capacity", capacity, "capacity_mAh_g"), ("heterogeneity", heterogeneity, "x_std_end")):
            config = copy.deepcopy(example.sweep_table(name, voxel_nm=250.0)["base"])
            config["material"] = member
            config["protocol"]["c_rate"] = 1.0
            direct = cm.simulate(config)
            assert float(ds[figure].sel(nc91=fraction, c_rate=1.0)) == direct.attrs[figure], (name, member)
    assert np.isfinite(heterogeneity.fwhm_003_deg.values).all() and (heterogeneity.fwhm_003_deg.values > 0).all()
    assert_png(example.visualize(result, tmp_path / "composition.png"))


def test_cycling_li_balance_and_coulombic_efficiency(tmp_path):
    example = load_example("cycling")
    ds = example.run()
    assert ds.sizes["cycle"] == 5 and ds.attrs["li_balance_error"] < 1e-12
    balance = example.li_balance(ds)
    assert balance["last_snapshot_at_end"]
    assert balance["x_mean_field"] == pytest.approx(balance["x_mean_from_charge"], abs=1e-10)
    ce = ds.coulombic_efficiency.values
    assert np.all(ce > 0) and np.all(ce <= example.coulombic_efficiency_bound(ds))
    assert ce[0] < 1 and ce[2] < 1  # the first cycle, and the switch from C/10 to 0.5C
    np.testing.assert_allclose(ce[[1, 3, 4]], 1.0, atol=1e-6)  # a repeated cycle returns what it took
    # the C/10 rows of the README's cycle table (runs/cycling.toml, NC91), as printed there
    assert round(float(ds.discharge_capacity[0]), 2) == 239.09 and round(float(ce[0]), 4) == 0.9731
    assert round(float(ds.discharge_capacity[1]), 2) == 239.09 and round(float(ce[1]), 4) == 1.0
    assert list(ds.step_end_reason.values[4:8]) == ["v_max", "cv current below end value", "time", "v_min"]
    assert_png(example.visualize(ds, tmp_path / "cycling.png"))


# ---- the sample measured files -------------------------------------------------------

def sample_files():
    return {"xrd": sorted(DATA.glob("xrd_*.xy")), "sxdm": DATA / "sxdm_nc91_4p5V_frames.h5",
            "xanes": DATA / "txm_xanes_nc91_4p5V_white_line.h5"}


def test_sample_files_are_readable_synthetic_and_small():
    from chemomech.io.readers import read_powder_pattern
    from chemomech.observables.sxdm_scan import read_sxdm_frames
    from chemomech.observables.txm_xanes import measured_white_line

    files = sample_files()
    assert len(files["xrd"]) == 5
    total = sum(path.stat().st_size for path in DATA.iterdir())
    assert total < 2e6
    assert "SYNTHETIC" in (DATA / "README.md").read_text()
    for path in files["xrd"]:
        pattern = read_powder_pattern(path)
        assert pattern.wavelength_A == pytest.approx(0.1173) and pattern.x_unit == "2th_deg"
        assert not pattern.x_unit_assumed and any("SYNTHETIC" in line for line in pattern.header)
        assert pattern.intensity.min() > 0  # a background under everything
    frames, geometry = read_sxdm_frames(files["sxdm"])
    assert frames.shape[0] == geometry["angles_deg"].size == 11 and frames.shape[3:] == (16, 16)
    assert "SYNTHETIC" in geometry["note"] and geometry["energy_keV"] == 12.0
    white_line, mask = measured_white_line(files["xanes"], dataset="/exchange/white_line")
    assert mask.sum() > 1000 and 8340 < np.nanmean(white_line) < 8360  # Ni K edge, eV


@pytest.mark.slow
def test_sample_cell_files_read_and_compare(tmp_path):
    """The coin-cell sample files (cycler CSV, refined lattice table, XAS spectra) read as
    SYNTHETIC data, and `chemomech compare` of them with their regenerated source run
    differs by the added noise only: RMS voltage of the charges below 3 mV (1 mV noise),
    c/c0 within 3 esds, white line within 0.1 eV (noise 0.3 % of the edge step)."""
    import json

    from chemomech.cli.main import main
    from chemomech.io.cycler import read_cycler
    from chemomech.io.lattice_table import read_lattice_table
    from chemomech.io.xas_spectra import read_xas_spectra

    generator = load_example("make_sample_measurements")
    cycler = read_cycler(DATA / "cell_nc91_C10.csv")
    assert cycler.mass_g == pytest.approx(generator.CELL_MASS_MG * 1e-3)
    assert read_lattice_table(DATA / "lattice_nc91_C10_refined.csv").axis == "charge"
    spectra = read_xas_spectra(sorted(DATA.glob("xas_nc91_*.xmu")))
    assert [s.label_kind for s in spectra] == ["voltage"] * 4
    for path in [DATA / "cell_nc91_C10.csv", DATA / "lattice_nc91_C10_refined.csv", *DATA.glob("xas_nc91_*.xmu")]:
        assert "SYNTHETIC" in path.read_text().splitlines()[0], path.name
    cell = generator.run_cell()
    run = generator.write_cell_run(cell, tmp_path / "cell")
    assert main(["compare", str(run), "--cycler", str(DATA / "cell_nc91_C10.csv"),
                 "--lattice", str(DATA / "lattice_nc91_C10_refined.csv"),
                 "--xas", *map(str, sorted(DATA.glob("xas_nc91_*.xmu")))]) == 0
    metrics = json.loads((run / "compare" / "compare.json").read_text())
    for cycle in metrics["cycler"]["cycles"]:  # the charge branches; the discharge's steep end
        # (3.5 -> 2.8 V within ~1 mAh/g) falls between the 60 s samples and dominates its RMS
        assert cycle["voltage_difference"]["charge"]["rms_V"] < 3e-3
    assert metrics["lattice"]["rms_c_rel"] < 3 * generator.LATTICE_ESD_A[1] / 14.2
    assert metrics["xas"]["white_line"]["rms_difference_eV"] < 0.1


@pytest.mark.slow
def test_sample_files_against_the_run_they_were_made_from(tmp_path, capsys):
    """`chemomech compare` of the committed files with their regenerated source run: the
    differences are the added noise only - XRD Rwp at the Poisson level (~2 %), SXDM and
    XANES distributions equal within their sampling (W1 << their spread)."""
    from chemomech.cli.main import main

    generator = load_example("make_sample_measurements")
    result = generator.run()
    source = generator.write_source_run(result, tmp_path / "source")
    files = sample_files()
    out = tmp_path / "compare"
    assert main(["compare", str(source), "--xrd", *map(str, files["xrd"]), "--sxdm", str(files["sxdm"]),
                 "--xanes", str(files["xanes"]), "--xanes-dataset", "/exchange/white_line",
                 "--xanes-noise", str(generator.XANES_NOISE), "--out", str(out)]) == 0
    metrics = json.loads((out / "compare.json").read_text())
    assert metrics["xrd"]["wavelength_source"] == "from the files"
    assert metrics["xrd"]["rwp_max"] < 0.05
    for entry in metrics["xrd"]["patterns"]:
        for peak in entry["peaks"].values():
            assert abs(peak["position_difference_deg"]) < 1e-3
    for name, comparison in metrics["sxdm"]["maps"].items():
        assert comparison["wasserstein_distance"] < 0.1 * comparison["measured"]["std"], name
    assert metrics["xanes"]["wasserstein_distance"] < 0.01  # eV; the white-line spread is ~0.1 eV
    assert_png(generator.visualize(result, tmp_path / "sample_measurements.png"))
