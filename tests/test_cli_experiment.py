"""Experiment protocols end to end through the command line: `chemomech run` on cycling
configs, `chemomech plot` on cycling and rate-test runs, bad protocols (exit status 2, one
line on stderr, no output directory), and self-contained results (the material a run used
is stored in it: changing the material file afterwards changes none of its analyses)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tomli_w

import chemomech as cm
from chemomech.cli.main import main
from chemomech.io.results import open_run, run_material

REPO = Path(__file__).resolve().parents[1]


def config_file(folder: Path, blocks: list, name: str = "exp.toml", **extra) -> Path:
    config = {"material": "nc91", "particle": {"radius_um": 1.0, "cells": 20},
              "protocol": {"kind": "experiment", "blocks": blocks}, "output": {"snapshots": 4}}
    for section, values in extra.items():
        config.setdefault(section, {}).update(values)
    path = folder / name
    path.write_text(tomli_w.dumps(config))
    return path


CYCLES = [{"repeat": 2, "steps": ["Charge at 1C until 4.5 V", "Discharge at 1C until 2.8 V"]}]


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` under a minute
def test_run_and_plot_a_cycling_config(tmp_path, capsys):
    out = tmp_path / "cycling"
    assert main(["run", str(config_file(tmp_path, CYCLES)), "--out", str(out), "--quiet"]) == 0
    ds = open_run(out)
    assert ds.sizes["cycle"] == 2 and ds.sizes["step"] == 4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cycles"] == 2
    assert summary["discharge_capacity_last_mAh_g"] == pytest.approx(float(ds["discharge_capacity"][-1]))
    figure = tmp_path / "cycling.png"
    assert main(["plot", str(out), "--out", str(figure)]) == 0
    assert figure.stat().st_size > 10_000
    # the resolved config re-runs to the same numbers
    again = tmp_path / "again"
    assert main(["run", str(out / "config.toml"), "--out", str(again), "--quiet"]) == 0
    np.testing.assert_array_equal(open_run(again)["discharge_capacity"], ds["discharge_capacity"])


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` under a minute
def test_plot_a_rate_test(tmp_path):
    blocks = [{"steps": ["Charge at 1C until 4.5 V", f"Discharge at {r} until 2.8 V"]} for r in ("1C", "2C")]
    out = tmp_path / "rate"
    assert main(["run", str(config_file(tmp_path, blocks)), "--out", str(out), "--quiet"]) == 0
    figure = tmp_path / "rate.png"
    assert main(["plot", str(out), "--out", str(figure)]) == 0
    assert figure.is_file()


def test_shipped_examples_resolve():
    for name in ("cycling.toml", "rate_test.toml"):
        spec = cm.simulation.spec.run_spec(REPO / "runs" / name)
        assert spec.protocol_kind == "experiment"
    assert cm.simulation.spec.run_spec(REPO / "runs" / "cycling.toml").experiment.n_cycles == 103


BAD = {
    "unknown verb": ([{"steps": ["Jump at 1C until 4.5 V"]}], "unknown verb 'Jump'"),
    "unknown unit": ([{"steps": ["Charge at 1C for 2 days"]}], "unknown unit"),
    "hold voltage": ([{"steps": ["Charge at 1C until 4.2 V", "Hold at 7 V until C/20"]}], "(0, 6]"),
    "repeat": ([{"repeat": 0, "steps": ["Charge at 1C until 4.5 V"]}], "repeat"),
    "empty block": ([{"repeat": 1, "steps": []}], "empty"),
    "cutoffs": ([{"steps": ["Charge at 1C until 4.0 V", "Discharge at 1C until 4.2 V"]}], "4.2"),
    "discharge first": ([{"steps": ["Discharge at 1C until 2.8 V"]}], "lithiated"),
    "charge limit below start": ([{"steps": ["Charge at 1C until 3.0 V"]}], "never be reached"),
    "no blocks": ([], "blocks"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_protocols_are_one_line_errors(tmp_path, capsys, case):
    blocks, fragment = BAD[case]
    out = tmp_path / "out"
    assert main(["run", str(config_file(tmp_path, blocks)), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chemomech: error:") and "\n" not in err, err
    assert fragment in err, err
    assert not out.exists()


def test_unreachable_limit_during_the_run_leaves_no_directory(tmp_path, capsys):
    blocks = [{"steps": ["Charge at 1C until 4.2 V", "Rest for 1 min", "Charge at 1C until 4.1 V"]}]
    out = tmp_path / "out"
    assert main(["run", str(config_file(tmp_path, blocks)), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "never be reached" in err and not out.exists()


def test_bad_snapshot_cycles(tmp_path, capsys):
    path = config_file(tmp_path, CYCLES, output={"snapshot_cycles": [3]})
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "snapshot_cycles" in capsys.readouterr().err


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` under a minute
def test_results_are_self_contained(tmp_path, small_sphere_result):
    """Run with a copy of the material file, then change that file: the run's material,
    its XRD and its XANES are unchanged, because they are rebuilt from the material text
    stored in result.nc."""
    material_file = tmp_path / "my_nc91.toml"
    shutil.copy(REPO / "models" / "nc91.toml", material_file)
    config = config_file(tmp_path, CYCLES)
    text = config.read_text().replace('material = "nc91"', f'material = "{material_file.name}"')
    config.write_text(text)
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    before = open_run(out)
    x = np.linspace(0, 1, 11)
    c_before = run_material(before).lattice_c(x)
    pattern_before = cm.observables.xrd(before, wavelength_A=0.1173)
    # change the lattice table of the file the run used
    changed = material_file.read_text().replace("c_angstrom = [14.190", "c_angstrom = [14.290")
    assert changed != material_file.read_text()
    material_file.write_text(changed)
    assert cm.load_material(material_file).lattice_c(1.0) == pytest.approx(14.29)
    after = open_run(out)
    np.testing.assert_array_equal(run_material(after).lattice_c(x), c_before)
    pattern_after = cm.observables.xrd(after, wavelength_A=0.1173)
    np.testing.assert_array_equal(pattern_after["intensity"].values, pattern_before["intensity"].values)
    assert after.attrs["material_sha256"] == before.attrs["material_sha256"]


@pytest.mark.slow
def test_sweep_of_an_experiment_config_carries_per_cycle_figures(tmp_path):
    """A sweep over materials and radii of a 2-cycle experiment: summary.nc holds the
    per-cycle figures over (material, radius_um, cycle), equal to each point's result.nc."""
    config_file(tmp_path, CYCLES, name="base.toml")
    sweep = tmp_path / "s.sweep.toml"
    sweep.write_text('base = "base.toml"\n[axes]\nmaterial = ["nc91", "nm91"]\n"particle.radius_um" = [0.5, 1.0]\n')
    out = tmp_path / "sweep"
    assert main(["sweep", str(sweep), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    import xarray as xr

    with xr.open_dataset(out / "summary.nc", engine="h5netcdf") as summary:
        summary = summary.load()
    assert summary["discharge_capacity"].dims == ("material", "radius_um", "cycle")
    for material in ("nc91", "nm91"):
        at = {"material": material, "radius_um": 1.0}
        point = open_run(out / "points" / summary["point"].sel(at).item())
        np.testing.assert_array_equal(summary["discharge_capacity"].sel(at).values, point["discharge_capacity"].values)
    assert main(["plot", str(out), "--out", str(tmp_path / "sweep.png")]) == 0


@pytest.mark.parametrize("name", ["figure.xyz", "figure"])
def test_plot_to_an_unknown_format_is_one_line(tmp_path, capsys, name):
    """matplotlib's own error would be a traceback: the suffix is checked first and the
    allowed formats listed (those of the figure's canvas)."""
    out = tmp_path / "run"
    assert main(["run", str(config_file(tmp_path, CYCLES)), "--out", str(out), "--quiet"]) == 0
    assert main(["plot", str(out), "--out", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chemomech: error:") and "\n" not in err and ".png" in err and ".pdf" in err
    assert not (tmp_path / name).exists()
