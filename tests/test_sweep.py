"""Parameter sweeps (chemomech.sweep, `chemomech sweep`).

Reference values: every point of a sweep is an ordinary run, so its figures must equal a
direct cm.simulate of the same resolved configuration (the solver is deterministic: same
code, same inputs, same floating-point operations, hence equal to 1e-12 and in practice
bit for bit), whichever process or machine ran it. The grid is checked against
numpy.linspace/geomspace/arange and itertools.product by hand-written expectations.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import chemomech as cm
from chemomech.cli.main import main
from chemomech.errors import ConfigError
from chemomech.sweep import load_sweep, run_sweep
from chemomech.sweep.run_points import point_complete
from tests.conftest import default_sigint

TINY_BASE = {  # ~10 ms per run
    "material": "nc91",
    "particle": {"geometry": "sphere-1d", "radius_um": 1.0, "cells": 20},
    "protocol": {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5},
    "output": {"snapshots": 3},
}
TINY_SWEEP = {"base": TINY_BASE, "axes": {"material": ["nc91", "nm91"], "protocol.c_rate": [0.5, 2.0]}}


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of two single-threaded worker processes shared by this module."""
    from distributed import Client, LocalCluster

    from chemomech.sweep.run_points import LOCAL_SCHEDULER_HTTP

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR,
                           scheduler_kwargs=LOCAL_SCHEDULER_HTTP)
    dask_client = Client(cluster)
    yield dask_client
    dask_client.close()
    cluster.close()


def test_axes_expand_to_the_outer_product():
    """Lists, linspace/step ranges and integer ranges; C order (last axis fastest)."""
    sweep = load_sweep({
        "base": TINY_BASE,
        "axes": {"material": ["nc91", "nm91"],
                 "protocol.c_rate": {"start": 0.1, "stop": 0.3, "step": 0.1},
                 "particle.radius_um": {"start": 0.5, "stop": 1.5, "num": 3}},
    })
    assert sweep.shape == (2, 3, 3) and len(sweep.points) == 18
    assert [a.name for a in sweep.axes] == ["material", "c_rate", "radius_um"]
    assert sweep.axes[1].values == (0.1, 0.2, 0.3)  # 0.1 + 2 * 0.1 rounded to 12 digits
    assert sweep.axes[2].values == (0.5, 1.0, 1.5)
    first, second, last = sweep.points[0], sweep.points[1], sweep.points[-1]
    assert first.name == "material=nc91__c_rate=0.1__radius_um=0.5"
    assert second.values == {"material": "nc91", "protocol.c_rate": 0.1, "particle.radius_um": 1.0}
    assert last.index == (1, 2, 2) and last.config["material"] == "nm91"
    assert last.config["protocol"]["c_rate"] == 0.3 and last.config["particle"]["radius_um"] == 1.5
    assert last.config["particle"]["cells"] == 20  # the base's other keys are kept
    assert len({p.name for p in sweep.points}) == 18 and len({p.config_hash for p in sweep.points}) == 18

    log = load_sweep({"base": TINY_BASE, "axes": {"protocol.c_rate": {"start": 0.1, "stop": 10, "num": 3, "log": True},
                                                  "particle.cells": {"start": 10, "stop": 30, "step": 10}}})
    assert log.axes[0].values == (0.1, 1.0, 10.0) and log.axes[1].values == (10, 20, 30)
    assert all(isinstance(v, int) for v in log.axes[1].values)


def test_sweep_file_relative_base_nested_keys_and_set(tmp_path):
    """A TOML file: base relative to the file, unquoted dotted keys (nested tables) mean the
    same as quoted ones, [set] overrides the base."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.toml").write_text(
        'material = "nc91"\n[particle]\ngeometry = "sphere-1d"\nradius_um = 1.0\ncells = 20\n')
    sweep_file = tmp_path / "sub" / "rates.sweep.toml"
    sweep_file.write_text('base = "base.toml"\n[set]\noutput.snapshots = 3\n'
                          '[axes]\nprotocol.c_rate = [1, 2]\n"material" = ["nc91"]\n')
    sweep = load_sweep(sweep_file)
    assert sweep.name == "rates" and [a.key for a in sweep.axes] == ["protocol.c_rate", "material"]
    assert all(p.config["output"]["snapshots"] == 3 for p in sweep.points)
    # the resolved sweep file (DIR/sweep.toml) expands to the same points
    (tmp_path / "resolved.toml").write_text(sweep.resolved_toml())
    again = load_sweep(tmp_path / "resolved.toml")
    assert [p.config_hash for p in again.points] == [p.config_hash for p in sweep.points]


@pytest.mark.parametrize("change, expected", [
    ({"axes": {"protocol.crate": [1, 2]}}, "'protocol.crate': unknown config key"),
    ({"axes": {"protocol.c_rate": []}}, "axis 'protocol.c_rate': empty list"),
    ({"axes": {"protocol.c_rate": 1.0}}, "axis 'protocol.c_rate' = 1.0: must be a list"),
    ({"axes": {"protocol.c_rate": {"start": 1, "num": 3}}}, "axis 'protocol.c_rate': range needs numbers start and stop"),
    ({"axes": {"protocol.c_rate": {"start": 1, "stop": 2, "num": 3, "step": 1}}}, "exactly one of num (count) or step"),
    ({"axes": {"particle.cells": {"start": 10, "stop": 20, "num": 4}}}, "axis 'particle.cells': an integer key"),
    ({"axes": {"protocol.c_rate": [1, 1.0]}}, "axis 'protocol.c_rate': value 1 given twice"),
    ({"axes": {"protocol.c_rate": [1, -2]}}, "point c_rate=-2: protocol.c_rate = -2.0: must be > 0"),
    ({"axes": {"material": ["nc91", "nx99"]}}, "point material=nx99: material = 'nx99' is unknown"),
    ({"axes": {}}, "no [axes]"),
    ({"extra": 1}, "unknown key 'extra'"),
    ({"base": "no_such_file.toml"}, "base = 'no_such_file.toml'"),
    ({"set": {"protocol.c_rate": 1}, "axes": {"protocol.c_rate": [1, 2]}}, "'protocol.c_rate' is both an axis and in [set]"),
])
def test_bad_sweeps_name_the_key_before_any_work(change, expected):
    """One-line ConfigError naming the key (or the point) at load time, before any run."""
    sweep = {"base": TINY_BASE, "axes": {"material": ["nc91"]}}
    sweep.update(change)
    with pytest.raises(ConfigError) as info:
        load_sweep(sweep)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_bad_sweep_file_cli_exit_2_and_nothing_written(tmp_path, capsys):
    bad = tmp_path / "bad.sweep.toml"
    bad.write_text('base = "nothing.toml"\n[axes]\nmaterial = ["nc91"]\n')
    assert main(["sweep", str(bad), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chemomech: error: sweep file") and err.count("\n") == 1 and "nothing.toml" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_local_cluster_sweep_equals_direct_runs(client, tmp_path):
    """Every point's figures equal a direct cm.simulate of its configuration (determinism);
    summary.nc has one dimension per axis with the axis values as coordinates."""
    ds = run_sweep(TINY_SWEEP, tmp_path / "sweep", client=client, progress=False)
    assert ds.attrs["points_run"] == 4 and ds.attrs["points_failed"] == 0
    on_disk = xr.open_dataset(tmp_path / "sweep" / "summary.nc", engine="h5netcdf").load()
    assert on_disk["capacity_mAh_g"].dims == ("material", "c_rate")
    assert list(on_disk["material"].values) == ["nc91", "nm91"] and list(on_disk["c_rate"].values) == [0.5, 2.0]
    assert on_disk["c_rate"].attrs["units"] == "1/h" and on_disk["capacity_mAh_g"].attrs["units"] == "mAh/g"
    assert (on_disk["status"] == "ok").all()
    for point in load_sweep(TINY_SWEEP).points:
        direct = cm.simulate(point.config)
        folder = tmp_path / "sweep" / "points" / point.name
        assert {"config.toml", "result.nc", "summary.json"} <= {p.name for p in folder.iterdir()}
        stored = json.loads((folder / "summary.json").read_text())
        cell = on_disk.sel(material=point.values["material"], c_rate=point.values["protocol.c_rate"])
        for name in ("soc_end", "voltage_end", "time_end_s", "hoop_stress_surface_max_mpa"):
            assert abs(stored[name] - direct.attrs[name]) <= 1e-12 * max(1.0, abs(direct.attrs[name]))
            assert abs(float(cell[name]) - direct.attrs[name]) <= 1e-12 * max(1.0, abs(direct.attrs[name]))
        assert str(cell["end_reason"].values) == direct.attrs["end_reason"]
    # the run directory is an ordinary one: result.nc holds the same charge curve
    with xr.open_dataset(folder / "result.nc", engine="h5netcdf") as result:
        np.testing.assert_array_equal(result["voltage"].values, direct["voltage"].values)


@pytest.mark.slow
def test_resume_recomputes_only_missing_corrupt_and_stale_points(client, tmp_path):
    out = tmp_path / "sweep"
    run_sweep(TINY_SWEEP, out, client=client, progress=False)
    points = out / "points"
    names = sorted(p.name for p in points.iterdir())
    kept = points / names[3] / "summary.json"
    kept_mtime = kept.stat().st_mtime_ns
    # an interrupted sweep: one point never written, a staging folder of a killed worker
    # left behind; and one point's summary.json damaged
    import shutil

    shutil.rmtree(points / names[0])
    (points / f".{names[0]}.abc123.tmp").mkdir()
    (points / names[1] / "summary.json").write_text("{not json")
    ds = run_sweep(TINY_SWEEP, out, client=client, progress=False)
    assert (ds.attrs["points_run"], ds.attrs["points_skipped"]) == (2, 2)
    assert kept.stat().st_mtime_ns == kept_mtime  # untouched
    assert not [p for p in points.iterdir() if p.name.startswith(".")]
    assert (ds["status"] == "ok").all()

    # a changed base configuration makes every point stale
    changed = {**TINY_SWEEP, "set": {"solver.tolerance": 1e-4}}
    assert run_sweep(changed, out, client=client, progress=False).attrs["points_run"] == 4
    # a new axis value adds points; the existing ones keep their names and results
    grown = {**changed, "axes": {"material": ["nc91", "nm91"], "protocol.c_rate": [0.5, 1.0, 2.0]}}
    ds = run_sweep(grown, out, client=client, progress=False)
    assert (ds.attrs["points_run"], ds.attrs["points_skipped"]) == (2, 4) and ds.sizes["c_rate"] == 3


@pytest.mark.slow
def test_cli_local_cluster_failed_point_recorded_and_plot(tmp_path, capsys):
    """`chemomech sweep --workers 2` (its own LocalCluster). The 2C point fails at run time
    (v_max = 3.5 V is above the open-circuit voltage at x0, 3.467 V, so it passes config
    checks, but the 2C overpotential puts the starting voltage at 3.55 V): it is recorded
    with its error, the C/10 point completes, the exit status is 1. Then `chemomech plot`
    of the sweep directory writes a figure."""
    base = tmp_path / "base.toml"
    base.write_text('material = "nc91"\n[particle]\ngeometry = "sphere-1d"\nradius_um = 1.0\ncells = 20\n'
                    '[protocol]\nv_max = 3.5\n[output]\nsnapshots = 3\n')
    sweep_file = tmp_path / "low_cutoff.sweep.toml"
    sweep_file.write_text('base = "base.toml"\n[axes]\n"protocol.c_rate" = [0.1, 0.5, 2]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--workers", "2", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert f"wrote {out / 'summary.nc'}" in captured.out
    assert "1 of 3 points failed" in captured.err and "already at or above it" in captured.err
    record = json.loads((out / "points" / "c_rate=2.error.json").read_text())
    assert record["error"].startswith("ConfigError: protocol.v_max = 3.5")
    ds = xr.open_dataset(out / "summary.nc", engine="h5netcdf").load()
    assert list(ds["status"].values) == ["ok", "ok", "failed"]
    assert np.isnan(ds["soc_end"].values[2]) and ds["soc_end"].values[0] > 0
    assert (out / "sweep.toml").is_file() and not (out / "points" / "c_rate=2").exists()

    figure = tmp_path / "capacity.png"
    assert main(["plot", str(out), "--out", str(figure)]) == 0
    assert figure.stat().st_size > 10_000


def _wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


@pytest.mark.slow
def test_sweep_on_a_separately_started_scheduler_and_two_workers(tmp_path):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, started here; the
    sweep runs through --scheduler and equals direct runs."""
    scheduler_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = []
    try:
        procs.append(subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                       "--scheduler-file", str(scheduler_file)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for(lambda: scheduler_file.is_file() and scheduler_file.stat().st_size > 0, 60, "scheduler file")
        address = json.loads(scheduler_file.read_text())["address"]
        for n in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file),
                 "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{n}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="30s") as probe:
            probe.wait_for_workers(2, timeout=60)
        out = tmp_path / "remote"
        assert main(["sweep", _write_sweep(tmp_path, TINY_SWEEP), "--out", str(out),
                     "--scheduler", address, "--quiet"]) == 0
        ds = xr.open_dataset(out / "summary.nc", engine="h5netcdf").load()
        for point in load_sweep(TINY_SWEEP).points:
            value = float(ds["soc_end"].sel(material=point.values["material"], c_rate=point.values["protocol.c_rate"]))
            assert abs(value - cm.simulate(point.config).attrs["soc_end"]) <= 1e-12
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _write_sweep(folder: Path, sweep: dict) -> str:
    import tomli_w

    path = folder / "tiny.sweep.toml"
    path.write_text(tomli_w.dumps(sweep))
    return str(path)


@pytest.mark.slow
def test_ctrl_c_leaves_only_complete_points_and_the_rerun_resumes(client, tmp_path):
    """SIGINT to the whole process group of a running `chemomech sweep` (what Ctrl-C in a
    terminal does): exit 130, no hidden staging folders, every point directory present is
    complete; the rerun computes exactly the missing points."""
    sweep = {"base": {**TINY_BASE, "particle": {"geometry": "sphere-1d", "radius_um": 1.0, "cells": 1500},
                      "solver": {"tolerance": 1e-6}},  # ~0.3 s a point
             "axes": {"material": ["nc91", "nm91"], "protocol.c_rate": [0.5, 1.0, 1.5, 2.0]}}
    out = tmp_path / "out"
    points = out / "points"
    proc = subprocess.Popen([sys.executable, "-m", "chemomech.cli.main", "sweep", _write_sweep(tmp_path, sweep),
                             "--out", str(out), "--workers", "1", "--quiet"],
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    try:
        _wait_for(lambda: points.is_dir() and any(not p.name.startswith(".") for p in points.iterdir()),
                  90, "first point")
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    entries = list(points.iterdir())
    assert not [p for p in entries if p.name.startswith(".")]
    spec = load_sweep(sweep)
    hashes = {p.name: p.config_hash for p in spec.points}
    assert all(point_complete(p, hashes[p.name]) for p in entries)
    done = len(entries)
    assert 1 <= done < 8
    ds = run_sweep(sweep, out, client=client, progress=False)
    assert (ds.attrs["points_run"], ds.attrs["points_skipped"]) == (8 - done, done)
    assert (ds["status"] == "ok").all()
