"""End to end through the command line: `chemomech run` and `chemomech plot`, the run
directory contract (config.toml, result.nc, summary.json), atomic writing and user errors
(exit status 2, one line "chemomech: error: ..." on stderr, no output left behind)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from chemomech.cli.main import main
from chemomech.io import rundir
from chemomech.materials.material import load_material

REPO = Path(__file__).resolve().parents[1]

TINY = """\
material = "nc91"

[particle]
cells = 20

[protocol]
c_rate = 2.0

[output]
snapshots = 5
"""
TINY_SNAPSHOTS = 5
TINY_CELLS = 20

SUMMARY_KEYS = {"soc_end", "capacity_mAh_g", "voltage_end", "time_end_s", "steps", "wall_s",
                "li_balance_error"}
UNITS = {
    "time": "s",
    "snapshot_time": "s",
    "r": "m",
    "voltage": "V",
    "soc": "1",
    "capacity": "mAh/g",
    "current_density": "A/m2",
    "x_li": "1",
}


def write_tiny(folder: Path, name: str = "tiny.toml", text: str = TINY) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def run_files(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


def hidden_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def open_result(run: Path) -> xr.Dataset:
    with xr.open_dataset(run / "result.nc", engine="h5netcdf") as ds:
        return ds.load()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """One tiny run (cells=20, c_rate=2, snapshots=5), shared by the read-only tests."""
    folder = tmp_path_factory.mktemp("tiny")
    config = write_tiny(folder)
    out = folder / "run"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    return out


# ---- the run directory ------------------------------------------------------------------
def test_run_writes_three_files(tiny_run):
    assert sorted(p.name for p in tiny_run.iterdir()) == ["config.toml", "result.nc", "summary.json"]
    assert hidden_entries(tiny_run.parent) == []  # no staging or retired directory left


def test_config_toml_is_the_resolved_config(tiny_run):
    with open(tiny_run / "config.toml", "rb") as handle:
        config = tomllib.load(handle)
    assert config["material"] == "nc91"
    particle = config["particle"]
    assert (particle["geometry"], particle["radius_um"], particle["cells"]) == ("sphere-1d", 2.0, TINY_CELLS)
    assert config["protocol"]["c_rate"] == 2.0
    assert config["output"]["snapshots"] == TINY_SNAPSHOTS
    assert set(config) == {"material", "particle", "protocol", "output", "solver"}  # defaults filled


def test_result_dims_coords_units(tiny_run):
    ds = open_result(tiny_run)
    assert dict(ds.sizes) == {"time": ds.sizes["time"], "snapshot": TINY_SNAPSHOTS, "r": TINY_CELLS}
    assert ds.sizes["time"] > 2
    for name in ("voltage", "soc", "capacity", "current_density"):
        assert ds[name].dims == ("time",)
    assert ds["x_li"].dims == ("snapshot", "r")
    assert ds["snapshot_time"].dims == ("snapshot",)
    assert {"time", "snapshot_time", "r"} <= set(ds.coords)
    for name, units in UNITS.items():
        assert ds[name].attrs.get("units") == units, name
    # every float variable and coordinate carries units (the integer `snapshot` index is a
    # counter, see the report)
    for name, variable in ds.variables.items():
        if name != "snapshot":
            assert "units" in variable.attrs, name
    # time stays seconds as float (units "s" must not be decoded to timedelta by xarray)
    assert ds["time"].dtype == np.float64 and ds["snapshot_time"].dtype == np.float64


def test_result_values(tiny_run):
    ds = open_result(tiny_run)
    material = load_material("nc91")
    for name, variable in ds.variables.items():
        if np.issubdtype(variable.dtype, np.number):
            assert np.all(np.isfinite(variable.values)), f"{name} has NaN/inf"
    # snapshot 0 is the initial state: uniform x_initial, exactly (copied, not computed)
    assert ds["snapshot_time"].values[0] == 0.0
    assert np.all(ds["x_li"].values[0] == material.x_initial)
    assert ds["time"].values[0] == 0.0
    assert np.all(np.diff(ds["time"].values) > 0)
    assert np.all(np.diff(ds["snapshot_time"].values) > 0)
    assert np.all(np.diff(ds["soc"].values) >= 0)  # charging only removes Li
    assert ds["soc"].values[0] == 0.0
    assert np.all((ds["x_li"].values >= 0) & (ds["x_li"].values <= 1))
    # CC charge ends at the cutoff; 1e-5 V is the contract's tolerance on the final voltage
    assert ds["voltage"].values[-1] == pytest.approx(4.5, abs=1e-5)
    assert np.all(ds["voltage"].values <= 4.5 + 1e-5)  # same tolerance
    # 1 C = 270 mAh/g in one hour: capacity = soc * 270, the same product in the code
    np.testing.assert_allclose(ds["capacity"].values, 270.0 * ds["soc"].values, rtol=1e-12)
    r = ds["r"].values
    assert np.all(np.diff(r) > 0) and 0 < r[0] and r[-1] < 2.0e-6  # cell centres inside R = 2 um


def test_summary_json(tiny_run):
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    for key in SUMMARY_KEYS:
        assert isinstance(summary[key], (int, float)) and math.isfinite(summary[key]), key
    assert isinstance(summary["steps"], int) and summary["steps"] > 0
    # the contract's bound: Li is conserved to round-off (a few ulp of x per step)
    assert abs(summary["li_balance_error"]) < 1e-10
    ds = open_result(tiny_run)
    # summary and result are written from the same arrays: equal exactly
    assert summary["voltage_end"] == float(ds["voltage"].values[-1])
    assert summary["time_end_s"] == float(ds["time"].values[-1])
    assert summary["soc_end"] == float(ds["soc"].values[-1])
    assert summary["capacity_mAh_g"] == float(ds["capacity"].values[-1])
    assert summary["steps"] == ds.sizes["time"] - 1
    assert 0 < summary["soc_end"] < 1


def test_rerun_of_config_toml_is_identical(tiny_run, tmp_path):
    again = tmp_path / "again"
    assert main(["run", str(tiny_run / "config.toml"), "--out", str(again), "--quiet"]) == 0
    first = json.loads((tiny_run / "summary.json").read_text())
    second = json.loads((again / "summary.json").read_text())
    first.pop("wall_s"), second.pop("wall_s")
    assert first == second  # deterministic: identical numbers, not merely close
    assert (again / "config.toml").read_text() == (tiny_run / "config.toml").read_text()
    a, b = open_result(tiny_run), open_result(again)
    a.attrs.pop("wall_s"), b.attrs.pop("wall_s")
    xr.testing.assert_identical(a, b)


def test_set_overrides_and_default_out(tmp_path, monkeypatch, capsys):
    """--set on the shipped example; without --out the run goes to runs/<config name>."""
    monkeypatch.chdir(tmp_path)
    code = main(["run", str(REPO / "runs" / "sphere_1d.toml"), "--set", "particle.cells=20",
                 "--set", "protocol.c_rate=2", "--set", "output.snapshots=5"])
    assert code == 0
    out = tmp_path / "runs" / "sphere_1d"
    assert sorted(p.name for p in out.iterdir()) == ["config.toml", "result.nc", "summary.json"]
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["particle"]["cells"] == 20 and config["protocol"]["c_rate"] == 2.0
    stdout = capsys.readouterr().out
    assert "NC91" in stdout and str(out.relative_to(tmp_path)) in stdout  # the summary line


def test_quiet_prints_nothing(tmp_path, capsys):
    config = write_tiny(tmp_path)
    assert main(["run", str(config), "--out", str(tmp_path / "q"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_material_override_from_the_command_line(tmp_path):
    config = write_tiny(tmp_path)
    out = tmp_path / "iso"
    code = main(["run", str(config), "--out", str(out), "--quiet",
                 "--set", "material_overrides.diffusivity.out_of_plane_ratio=1.0"])
    assert code == 0
    saved = tomllib.loads((out / "config.toml").read_text())
    assert saved["material_overrides"] == {"diffusivity.out_of_plane_ratio": 1.0}


# ---- existing output directories --------------------------------------------------------
def test_existing_out_without_force_is_refused(tiny_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    before = run_files(out)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code = main(["run", str(write_tiny(tmp_path)), "--out", str(out), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("chemomech: error:") and err.count("\n") == 1
    assert "--force" in err and str(out) in err
    assert run_files(out) == before
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    assert hidden_entries(tmp_path) == []


def test_force_replaces(tiny_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    (out / "stale.txt").write_text("from an older run")
    config = write_tiny(tmp_path, text=TINY.replace("c_rate = 2.0", "c_rate = 3.0"))
    assert main(["run", str(config), "--out", str(out), "--force", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["config.toml", "result.nc", "summary.json"]
    assert tomllib.loads((out / "config.toml").read_text())["protocol"]["c_rate"] == 3.0
    assert hidden_entries(tmp_path) == []  # neither staging nor the retired old directory


def test_force_on_a_new_directory(tmp_path):
    out = tmp_path / "nested" / "deeper" / "run"
    assert main(["run", str(write_tiny(tmp_path)), "--out", str(out), "--force", "--quiet"]) == 0
    assert (out / "result.nc").is_file()


# ---- user errors: exit 2, one line, nothing written -------------------------------------
BAD_CONFIGS = {  # case: (config text, a fragment the error line must contain)
    "unknown material": (TINY.replace('"nc91"', '"nc99"'), "'nc99'"),
    # a top-level key must come before the first table: right after `material`
    "unknown top-level key": (TINY.replace('"nc91"\n', '"nc91"\ncolour = "red"\n'), "'colour'"),
    "unknown key in a section": (TINY.replace("cells = 20", "cells = 20\nradius = 2.0"), "particle.radius"),
    "radius zero": (TINY.replace("cells = 20", "cells = 20\nradius_um = 0.0"), "particle.radius_um = 0.0"),
    "radius negative": (TINY.replace("cells = 20", "cells = 20\nradius_um = -2.0"), "particle.radius_um = -2.0"),
    "c_rate zero": (TINY.replace("c_rate = 2.0", "c_rate = 0.0"), "protocol.c_rate = 0.0"),
    "c_rate negative": (TINY.replace("c_rate = 2.0", "c_rate = -1.0"), "protocol.c_rate = -1.0"),
    "v_max below OCV": (TINY.replace("c_rate = 2.0", "c_rate = 2.0\nv_max = 3.0"), "protocol.v_max = 3.0"),
    "cells below 3": (TINY.replace("cells = 20", "cells = 2"), "particle.cells = 2"),
    "radius as string": (TINY.replace("cells = 20", 'cells = 20\nradius_um = "big"'), "'big'"),
    "malformed TOML": (TINY.replace("[particle]", "[particle"), "malformed TOML"),
}


def assert_user_error(capsys, code: int, *fragments: str):
    captured = capsys.readouterr()
    assert code == 2
    err = captured.err
    assert err.startswith("chemomech: error:"), err
    assert err.count("\n") == 1 and err.endswith("\n"), f"not one line: {err!r}"
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} missing from {err!r}"


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_exits_2(case, tmp_path, capsys):
    text, fragment = BAD_CONFIGS[case]
    config = write_tiny(tmp_path, "bad.toml", text)
    out = tmp_path / "out"
    code = main(["run", str(config), "--out", str(out), "--quiet"])
    assert_user_error(capsys, code, fragment)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]  # nothing else, hidden or not


@pytest.mark.parametrize(
    "assignment, fragment",
    [
        ("particle.radius_um=0", "particle.radius_um"),
        ("protocol.c_rate=0", "protocol.c_rate"),
        ("protocol.v_max=3.0", "protocol.v_max"),
        ("particle.cells=2", "particle.cells"),
        ("particle.radius_um=big", "'big'"),
        ("material=nc99", "'nc99'"),
        ("particle.colour=red", "particle.colour"),
        ("no_equals_sign", "no_equals_sign"),
    ],
)
def test_bad_set_exits_2(assignment, fragment, tmp_path, capsys):
    config = write_tiny(tmp_path)
    out = tmp_path / "out"
    code = main(["run", str(config), "--out", str(out), "--quiet", "--set", assignment])
    assert_user_error(capsys, code, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


def test_missing_config_file_exits_2(tmp_path, capsys):
    code = main(["run", str(tmp_path / "absent.toml"), "--out", str(tmp_path / "out")])
    assert_user_error(capsys, code, "absent.toml")
    assert list(tmp_path.iterdir()) == []


def test_out_is_a_file_exits_2(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("not a directory")
    code = main(["run", str(write_tiny(tmp_path)), "--out", str(target), "--force", "--quiet"])
    assert_user_error(capsys, code, "not a directory")
    assert target.read_text() == "not a directory"
    assert hidden_entries(tmp_path) == []


# ---- failures while writing -------------------------------------------------------------
def failing_write(*args, **kwargs):
    """In place of rundir.write_netcdf, the writer of result.nc."""
    raise OSError("simulated disk full")


def test_failure_mid_write_leaves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rundir, "write_netcdf", failing_write)
    config = write_tiny(tmp_path)
    out = tmp_path / "run"
    # a file-system failure is reported in one line with exit status 1, no traceback
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("chemomech: error:") and "simulated disk full" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]  # no staging directory


def test_failure_mid_write_with_force_keeps_the_old_run(tiny_run, tmp_path, monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    before = run_files(out)
    monkeypatch.setattr(rundir, "write_netcdf", failing_write)
    assert main(["run", str(write_tiny(tmp_path)), "--out", str(out), "--force", "--quiet"]) == 1
    assert run_files(out) == before
    assert hidden_entries(tmp_path) == []


def test_interrupt_mid_write_exits_130_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rundir, "write_netcdf", interrupted)
    out = tmp_path / "run"
    assert main(["run", str(write_tiny(tmp_path)), "--out", str(out), "--quiet"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


def test_run_directory_follows_the_umask(tmp_path):
    """mkdtemp makes a private (0700) staging directory; the finished run directory must
    carry the permissions the user's umask gives a new directory."""
    import os

    mask = os.umask(0o022)
    try:
        out = tmp_path / "run"
        assert main(["run", str(write_tiny(tmp_path)), "--out", str(out), "--quiet"]) == 0
    finally:
        os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o755


# ---- plot -------------------------------------------------------------------------------
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_plot_writes_png(tiny_run, tmp_path, capsys):
    figure = tmp_path / "fig.png"
    assert main(["plot", str(tiny_run), "--out", str(figure)]) == 0
    assert figure.read_bytes()[:8] == PNG_SIGNATURE
    assert str(figure) in capsys.readouterr().out


def test_plot_two_runs(tiny_run, tmp_path):
    other = tmp_path / "fast"
    config = write_tiny(tmp_path, text=TINY.replace("c_rate = 2.0", "c_rate = 4.0"))
    assert main(["run", str(config), "--out", str(other), "--quiet"]) == 0
    figure = tmp_path / "figs" / "both.png"
    assert main(["plot", str(tiny_run), str(other), "--out", str(figure)]) == 0
    assert figure.read_bytes()[:8] == PNG_SIGNATURE


def test_plot_of_a_non_run_exits_2(tmp_path, capsys):
    figure = tmp_path / "fig.png"
    code = main(["plot", str(tmp_path), "--out", str(figure)])
    assert_user_error(capsys, code, "not a run directory")
    assert not figure.exists()


# ---- the installed console script -------------------------------------------------------
def console_script() -> str:
    beside = Path(sys.executable).with_name("chemomech")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("chemomech")
    assert found, "the `chemomech` console script is not installed"
    return found


@pytest.mark.slow
def test_console_script_exit_codes(tmp_path):
    script = console_script()
    config = write_tiny(tmp_path)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}

    def run(*args):
        return subprocess.run([script, *args], capture_output=True, text=True, timeout=120,
                              cwd=tmp_path, env=env)

    ok = run("run", str(config), "--out", str(out), "--quiet")
    assert ok.returncode == 0, ok.stderr
    assert sorted(p.name for p in out.iterdir()) == ["config.toml", "result.nc", "summary.json"]
    before = run_files(out)

    again = run("run", str(config), "--out", str(out), "--quiet")
    assert again.returncode == 2
    assert again.stderr.startswith("chemomech: error:") and again.stderr.count("\n") == 1
    assert "Traceback" not in again.stderr
    assert run_files(out) == before

    bad = write_tiny(tmp_path, "bad.toml", BAD_CONFIGS["unknown key in a section"][0])
    failed = run("run", str(bad), "--out", str(tmp_path / "bad_out"))
    assert failed.returncode == 2
    assert failed.stderr.startswith("chemomech: error:") and failed.stderr.count("\n") == 1
    assert "particle.radius" in failed.stderr and "Traceback" not in failed.stderr
    assert not (tmp_path / "bad_out").exists()
    assert hidden_entries(tmp_path) == []

    usage = run("frobnicate")  # argparse: unknown command, also status 2
    assert usage.returncode == 2
