"""`chemomech validate` (chemomech/validation/): the quick subset passes and writes its
report; a target the model cannot meet makes the exit status non-zero; findings never
fail; --list and user mistakes. The numbers checked inside the cases come from the
analytical solutions and the study's rows (see chemomech/validation/*.py); here the suite's
plumbing is tested, with cases built for the purpose where a failure is needed."""

from __future__ import annotations

import json

import pytest

from chemomech.cli.main import main
from chemomech.validation import (
    CASES,
    Case,
    Outcome,
    below,
    reported,
    run_cases,
    select_cases,
    suite_failed,
    within,
)
from chemomech.validation import gitt as gitt_module


def impossible_case(kind: str = "analytical") -> Case:
    """A target no model meets: 1 against 0 +- 0.1."""
    return Case("impossible", kind, "a target that cannot be met",
                lambda: Outcome([within("one", 1.0, 0.0, 0.1, "test: impossible by construction")]), 0.0)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("validate") / "report"
    status = main(["validate", "--quick", "--quiet", "--out", str(out)])
    return status, out


def test_quick_subset_passes_and_writes_the_report(quick_report, capsys):
    status, out = quick_report
    assert status == 0
    assert (out / "report.md").is_file()
    names = [c.name for c in select_cases(quick=True)]
    assert names and all(CASES[n].kind in ("calibration", "analytical") for n in names)
    data = json.loads((out / "report.json").read_text())
    assert data["failed"] is False
    assert [c["name"] for c in data["cases"]] == names
    assert all(row["status"] == "pass" for case in data["cases"] for row in case["rows"])
    text = (out / "report.md").read_text()
    for name in names:
        assert f"## {name} " in text
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "calibration_nc91_voltage.png" in pngs and "analytical_crank.png" in pngs
    for png in pngs:  # every figure is linked from the report
        assert f"({png})" in text
    assert not list(out.parent.glob(".report.*"))  # no staging folder left behind


def test_rerun_replaces_an_earlier_report(quick_report):
    """An existing folder holding report.md is a previous report: replaced without --force."""
    _, out = quick_report
    assert main(["validate", "--case", "analytical-free-sphere-1d", "--quiet", "--out", str(out)]) == 0
    data = json.loads((out / "report.json").read_text())
    assert [c["name"] for c in data["cases"]] == ["analytical-free-sphere-1d"]


def test_failing_target_gives_nonzero_exit(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(CASES, "impossible", impossible_case())
    status = main(["validate", "--case", "impossible", "--quiet", "--out", str(tmp_path / "v")])
    assert status == 1
    printed = capsys.readouterr().out
    assert "fail" in printed and "FAILED" in printed
    data = json.loads((tmp_path / "v" / "report.json").read_text())  # the report is still written
    assert data["failed"] is True and data["cases"][0]["rows"][0]["status"] == "fail"


def test_findings_and_their_errors_never_fail():
    finding = Case("a-finding", "finding", "reported only",
                   lambda: Outcome([reported("ratio", 0.5, "> 1", "test")]), 0.0)
    broken_finding = Case("broken-finding", "finding", "raises", lambda: 1 / 0, 0.0)
    results = run_cases([finding, broken_finding])
    assert [r.status for r in results] == ["report", "report"]
    assert "ZeroDivisionError" in results[1].error
    assert not suite_failed(results)
    # the same exception in a checked case fails the suite (and the rest still run)
    broken_check = Case("broken-check", "analytical", "raises", lambda: 1 / 0, 0.0)
    passing = Case("passing", "analytical", "passes", lambda: Outcome([below("error", 0.0, 1e-9, "exact")]), 0.0)
    results = run_cases([broken_check, passing])
    assert [r.status for r in results] == ["error", "pass"]
    assert suite_failed(results)
    assert suite_failed(run_cases([impossible_case("calibration")]))
    assert suite_failed(run_cases([impossible_case("self-consistency")]))


def test_gitt_case_is_skipped_without_the_analysis(monkeypatch):
    monkeypatch.setattr(gitt_module, "_analysis", lambda: (None, "not installed"))
    case = CASES["gitt-self-consistency"]
    results = run_cases([case])
    assert results[0].status == "skipped"
    assert "not installed" in results[0].outcome.rows[0].model_text
    assert not suite_failed(results)


def test_list_prints_every_case(tmp_path, capsys):
    assert main(["validate", "--list", "--out", str(tmp_path / "never")]) == 0
    printed = capsys.readouterr().out
    for name in CASES:
        assert name in printed
    assert "--case only" in printed  # the full-size polycrystal is not in the default set
    assert not (tmp_path / "never").exists()
    assert "finding-polycrystal-full" not in [c.name for c in select_cases()]


def test_unknown_case_is_a_one_line_error(tmp_path, capsys):
    status = main(["validate", "--case", "no-such-case", "--out", str(tmp_path / "v")])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no-such-case" in err and "calibration-nc91" in err
    assert not (tmp_path / "v").exists()


def test_existing_folder_that_is_not_a_report_is_refused(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "data.txt").write_text("keep me")
    status = main(["validate", "--case", "analytical-free-sphere-1d", "--quiet", "--out", str(out)])
    assert status == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "data.txt").read_text() == "keep me"


@pytest.mark.slow
def test_rate_heterogeneity_case_reports_every_variant_and_keeps_the_calibration_rows():
    """finding-rate-heterogeneity (~12 s): 40 report rows (5 model variants x 4 C-rates x
    {spread of x, over-charged shell}), its figure, and - a real check - every variant
    keeps the SoC at 4.5 V of the brief's calibration rows (C/10 and 1C, +-0.02) on the
    graded 1-D sphere the case uses: the re-calibration of each option holds there too."""
    import re

    from chemomech.validation.calibration import TARGETS, TOLERANCE
    from chemomech.validation.findings import rate_heterogeneity_case

    outcome = rate_heterogeneity_case()
    assert len(outcome.rows) == 40 and all(row.status == "report" for row in outcome.rows)
    assert all(row.model is not None and row.model == row.model for row in outcome.rows)  # finite, not NaN
    assert list(outcome.figures) == ["finding_rate_heterogeneity.png"]
    for material, rate, key in (("NC91", "C/10", "soc_c10"), ("NC91", "1C", "soc_1c"),
                                ("NM91", "C/10", "soc_c10"), ("NM91", "1C", "soc_1c")):
        low, high = map(float, re.search(rf"{material} {rate} (\d+\.\d+)-(\d+\.\d+)", outcome.text).groups())
        target = TARGETS[material.lower()][key]
        assert target - TOLERANCE[key] <= low <= high <= target + TOLERANCE[key], (material, rate, low, high)
