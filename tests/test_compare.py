"""Simulated vs measured: the figures of merit and `chemomech compare`.

The end-to-end test compares a run with measurements synthesised from the same run, so
every figure of merit has a known value: a pattern that is an exact scale + background of
the synthetic one gives Rwp 0 and peak-position differences ~0; SXDM frames simulated
from the run give identical map statistics (W1 = KS = 0); a white-line volume shifted by
delta gives W1 = |delta| and a mean difference of -delta (W1 of a shifted distribution is
the shift, by its definition as the integral of |F_a - F_b|)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import chemomech as cm
from chemomech.cli.main import main
from chemomech.errors import ChemomechError
from chemomech.io.readers import write_powder_pattern
from chemomech.observables.compare import compare_distributions, snapshots_for_series


def test_distribution_metrics_against_their_definitions():
    """W1 of a shifted sample is the shift; KS of identical samples is 0 and of disjoint
    ones is 1; percentiles and std as numpy computes them (population std)."""
    rng = np.random.default_rng(1)
    a = rng.normal(8351.0, 0.1, 5000)
    same = compare_distributions(a, a)
    assert same["wasserstein_distance"] == pytest.approx(0.0, abs=1e-12) and same["ks_statistic"] == 0.0
    shifted = compare_distributions(a, a + 0.25)
    assert shifted["wasserstein_distance"] == pytest.approx(0.25, rel=1e-9)
    assert shifted["mean_difference"] == pytest.approx(-0.25, rel=1e-9)
    disjoint = compare_distributions(a, a + 10.0)
    assert disjoint["ks_statistic"] == 1.0
    assert same["simulated"]["p50"] == pytest.approx(np.median(a))
    assert same["simulated"]["std"] == pytest.approx(a.std())
    with_nan = compare_distributions(np.append(a, np.nan), a)
    assert with_nan["simulated"]["count"] == a.size
    with pytest.raises(ChemomechError, match="no finite values"):
        compare_distributions(np.full(3, np.nan), a)


def test_series_pairing_by_soc():
    """Patterns spread evenly over the charge, or at given SoC, go to the nearest snapshot."""
    soc = np.array([0.0, 0.2, 0.4, 0.6, 0.8])
    assert list(snapshots_for_series(soc, 3)) == [0, 2, 4]
    assert list(snapshots_for_series(soc, 2, np.array([0.31, 0.79]))) == [2, 4]
    with pytest.raises(ChemomechError, match="one per pattern"):
        snapshots_for_series(soc, 3, np.array([0.1, 0.2]))


@pytest.mark.slow
def test_compare_a_run_with_its_own_synthetic_measurements(small_runs, small_voxel_result, tmp_path, capsys):
    ds = small_voxel_result
    run = small_runs["voxel"]
    # XRD: every snapshot's pattern as 7.5 x synthetic + 40 counts of background
    pattern = cm.observables.xrd(ds)
    files = []
    for k in range(ds.sizes["snapshot"]):
        path = tmp_path / f"pattern_{k}.xy"
        write_powder_pattern(path, pattern["two_theta"].values, 7.5 * pattern["intensity"].values[k] + 40.0, 0.1173)
        files.append(str(path))
    # SXDM frames simulated from the run, in the measured layout
    frames_path = tmp_path / "frames.h5"
    assert main(["sxdm", str(run), "--frames", str(frames_path), "--out", str(tmp_path / "sxdm")]) == 0
    # a white-line volume 0.05 eV above the synthetic one
    white_line = cm.observables.xanes(ds)["white_line_energy"].values
    with h5py.File(tmp_path / "xanes.h5", "w") as handle:
        handle["exchange/white_line"] = np.nan_to_num(white_line + 0.05)  # 0 outside, as exported maps
    out = tmp_path / "compare"
    capsys.readouterr()
    assert main(["compare", str(run), "--xrd", *files, "--sxdm", str(frames_path),
                 "--xanes", str(tmp_path / "xanes.h5"), "--xanes-dataset", "exchange/white_line",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "compare.json").read_text())
    assert {p.name for p in out.iterdir()} == {"compare.json", "compare_xrd.png", "compare_sxdm.png",
                                              "compare_xanes.png"}

    xrd = metrics["xrd"]
    assert xrd["wavelength_source"] == "from the files" and xrd["compared_reflections"] == ["003", "104"]
    assert [p["snapshot"] for p in xrd["patterns"]] == list(range(ds.sizes["snapshot"]))
    # exact scale and background, up to the file's rounding of 2-theta to 1e-6 deg (an
    # interpolation error ~ 1e-6 deg x slope ~ 1e-4 of the peak height at the steepest point)
    assert xrd["rwp_max"] < 1e-6
    highest = 7.5 * float(pattern["intensity"].max())
    for entry in xrd["patterns"]:
        assert entry["scale"] == pytest.approx(7.5, rel=1e-6)
        assert entry["background"] == pytest.approx(40.0, abs=1e-6 * highest)
        # the window fit (pseudo-Voigt + linear background) is equivariant under y -> s y + b
        for peak in entry["peaks"].values():
            assert abs(peak["position_difference_deg"]) < 1e-6 and peak["fwhm_ratio"] == pytest.approx(1.0, abs=1e-5)

    for name, comparison in metrics["sxdm"]["maps"].items():
        assert comparison["wasserstein_distance"] == pytest.approx(0.0, abs=1e-12), name
        assert comparison["ks_statistic"] == 0.0

    xanes = metrics["xanes"]
    assert xanes["wasserstein_distance"] == pytest.approx(0.05, rel=1e-6)
    assert xanes["mean_difference"] == pytest.approx(-0.05, rel=1e-6)
    assert xanes["units"] == "eV"


def test_compare_user_mistakes(small_runs, tmp_path, capsys):
    """Nothing to compare, SXDM against a 1-D run, a malformed pattern file: one line on
    stderr, exit 2, no output folder."""
    run, sphere = small_runs["voxel"], small_runs["sphere"]
    out = tmp_path / "out"
    assert main(["compare", str(run), "--out", str(out)]) == 2
    assert "nothing to compare" in capsys.readouterr().err
    frames = tmp_path / "f.h5"
    with h5py.File(frames, "w") as handle:
        handle["entry/data/frames"] = np.zeros((3, 2, 2, 4, 4), dtype=np.float32)
    assert main(["compare", str(sphere), "--sxdm", str(frames), "--out", str(out)]) == 2
    assert "voxel run" in capsys.readouterr().err
    bad = tmp_path / "bad.xy"
    bad.write_text("1.0 2.0\n1.1 oops\n")
    assert main(["compare", str(run), "--xrd", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.xy, line 2" in err and err.count("\n") == 1
    assert not out.exists()
