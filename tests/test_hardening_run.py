"""Faults of `chemomech run` a user can meet, each checked before or without computing:
runs too large for the machine's memory, Ctrl-C, unwritable or unsafe output directories,
staging folders left by killed runs; and the run's messages (--version, -q/-qq, the GITT
summary line).

Every user mistake: exit status 2, one line "chemomech: error: ..." on stderr naming the
key or path and what is allowed, nothing written."""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

import chemomech
from chemomech.cli.main import main
from chemomech.simulation import memory
from chemomech.simulation.memory import GIB, estimate_run_memory
from chemomech.simulation.spec import run_spec
from tests.conftest import default_sigint

REPO = Path(__file__).resolve().parents[1]
simulate_module = importlib.import_module("chemomech.simulation.run")

TINY = """\
material = "nc91"

[particle]
cells = 20

[protocol]
c_rate = 2.0

[output]
snapshots = 5
"""

# 1024 voxels across (2 x 1600 nm / 3.125 nm), the largest grid io.config accepts
HUGE_VOXEL = """\
material = "nc91"

[particle]
geometry = "single-crystal"
radius_um = 1.6
voxel_nm = 3.125
"""

# ~20 s on 2 cores: 40 voxels across, 1C charge, mechanics on 4 snapshots
SLOW_VOXEL = """\
material = "nc91"

[particle]
geometry = "single-crystal"
radius_um = 0.8
voxel_nm = 40.0

[protocol]
c_rate = 1.0

[output]
snapshots = 4
"""

GITT = """\
material = "nc91"

[particle]
cells = 20

[protocol]
kind = "gitt"
c_rate = 1.0
pulse_s = 600.0
rest_s = 600.0
v_max = 4.5

[output]
snapshots = 3
"""


def write_config(folder: Path, text: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def one_error_line(err: str) -> str:
    assert err.startswith("chemomech: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def hidden_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if the run gets as far as computing (the checks must come first)."""
    def must_not_run(*args, **kwargs):
        raise AssertionError("simulate() was called; the check must come before computing")

    monkeypatch.setattr(simulate_module, "simulate", must_not_run)


def dead_pid() -> int:
    """The pid of a process that has just exited (reuse within the test is unlikely)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# ---- 1. memory of voxel runs ---------------------------------------------------------
@pytest.mark.parametrize("across, measured_gib", [(64, 0.7), (128, 3.65)])
def test_estimate_within_2x_of_the_measured_peak(across, measured_gib):
    """Measured peaks: README "Speed" table, NC91 single crystal R = 1.6 um, 1C to 4.5 V,
    mechanics on 20 snapshots: 0.7 GiB at 64 across, 3.65 GiB at 128 across."""
    spec = run_spec({"material": "nc91",
                     "particle": {"geometry": "single-crystal", "radius_um": 1.6, "voxel_nm": 3200.0 / across},
                     "protocol": {"c_rate": 1.0, "v_max": 4.5}, "output": {"snapshots": 20}})
    peak = estimate_run_memory(spec)["peak"] / GIB
    assert measured_gib / 2 <= peak <= 2 * measured_gib


def test_estimate_counts_the_terms_as_documented():
    """Snapshots term: count x 9 float32 fields (mechanics on) x box voxels; 1 field off."""
    config = {"material": "nc91", "particle": {"geometry": "single-crystal", "radius_um": 0.5, "voxel_nm": 50.0},
              "output": {"snapshots": 7}}
    on = estimate_run_memory(run_spec(config))
    assert on["box_voxels"] == 22 ** 3  # 2 ceil(500/50) + 2 per axis (geometry.voxel)
    assert on["snapshots"] == 7 * 9 * 4 * 22 ** 3
    off = estimate_run_memory(run_spec({**config, "output": {"snapshots": 7, "mechanics": False}}))
    assert off["snapshots"] == 7 * 1 * 4 * 22 ** 3 and off["mechanics"] == 0


def test_estimate_counts_the_coupling_options():
    """[physics] options add their documented terms: any option COUPLING per solid voxel,
    phase separation PHASE more, and stress-assisted diffusion or slab spacing one elastic
    solve (MECHANICS per box voxel) even with output.mechanics off."""
    from chemomech.simulation.memory import (COUPLING_BYTES_PER_SOLID_VOXEL, MECHANICS_BYTES_PER_GRID_VOXEL,
                                             PHASE_BYTES_PER_SOLID_VOXEL)

    config = {"material": "nc91", "particle": {"geometry": "single-crystal", "radius_um": 0.5, "voxel_nm": 50.0},
              "output": {"mechanics": False}}
    fickian = estimate_run_memory(run_spec(config))
    phase = estimate_run_memory(run_spec({**config, "physics": {"phase_separation": True}}))
    slab = estimate_run_memory(run_spec({**config, "physics": {"slab_spacing_diffusivity": True}}))
    solid, box = fickian["voxels"], fickian["box_voxels"]
    assert phase["transport"] - fickian["transport"] == solid * (COUPLING_BYTES_PER_SOLID_VOXEL
                                                                 + PHASE_BYTES_PER_SOLID_VOXEL)
    assert phase["mechanics"] == 0
    assert slab["transport"] - fickian["transport"] == solid * COUPLING_BYTES_PER_SOLID_VOXEL
    assert slab["mechanics"] == box * MECHANICS_BYTES_PER_GRID_VOXEL


def test_snapshot_cycles_store_fewer_states():
    """Only the chosen cycles' states are kept (README "Configuration", output.snapshot_cycles)."""
    protocol = {"kind": "experiment", "blocks": [{"repeat": 10, "steps": [
        "Charge at 1C until 4.3 V", "Discharge at 1C until 3.0 V"]}]}
    base = {"material": "nc91", "particle": {"geometry": "single-crystal", "radius_um": 0.5, "voxel_nm": 50.0},
            "protocol": protocol}
    every = estimate_run_memory(run_spec(base))
    chosen = estimate_run_memory(run_spec({**base, "output": {"snapshot_cycles": [1]}}))
    assert chosen["rows"] < every["rows"] / 5


def test_available_memory_is_plausible():
    """MemAvailable is at most MemTotal (/proc/meminfo) and positive."""
    available = memory.available_memory()
    total = next(int(line.split()[1]) * 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal:"))
    assert 0 < available <= total


def test_huge_voxel_grid_fails_fast(tmp_path, capsys):
    """1024 across: ~1.1e9 box voxels, 20 snapshots x 9 float32 fields alone ~780 GB, far
    above this machine's memory (the test assumes < 700 GiB available)."""
    assert memory.available_memory() < 700 * GIB
    config = write_config(tmp_path, HUGE_VOXEL)
    out = tmp_path / "huge"
    started = time.perf_counter()
    status = main(["run", str(config), "--out", str(out)])
    elapsed = time.perf_counter() - started
    assert status == 2
    assert elapsed < 2.0
    err = one_error_line(capsys.readouterr().err)
    assert re.search(r"estimated [\d.]+ GiB for this run \([\d.]+M voxels", err)
    assert "GiB available" in err and "particle.voxel_nm" in err and "--allow-large" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


@pytest.mark.slow
def test_huge_voxel_grid_from_the_shell(tmp_path):
    """The same through `python -m chemomech.cli.main`: exit 2, one line, no directory."""
    config = write_config(tmp_path, HUGE_VOXEL)
    result = subprocess.run([sys.executable, "-m", "chemomech.cli.main", "run", str(config), "--out",
                             str(tmp_path / "huge")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    one_error_line(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_allow_large_overrides_the_check(tmp_path, monkeypatch, capsys):
    """With 1 byte "available" every run is too large; --allow-large runs it anyway."""
    monkeypatch.setattr(memory, "available_memory", lambda: 1.0)
    config = write_config(tmp_path, TINY)
    assert main(["run", str(config), "--out", str(tmp_path / "refused"), "--quiet"]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "--allow-large" in err and "particle.cells" in err
    assert not (tmp_path / "refused").exists()
    assert main(["run", str(config), "--out", str(tmp_path / "allowed"), "--quiet", "--allow-large"]) == 0
    assert (tmp_path / "allowed" / "result.nc").is_file()


def test_simulate_refuses_too_large_runs(monkeypatch):
    """The Python API checks too (before the particle is built); allow_large=True skips it."""
    monkeypatch.setattr(memory, "available_memory", lambda: 1.0)
    config = {"material": "nc91", "particle": {"cells": 10}, "output": {"snapshots": 2}}
    with pytest.raises(chemomech.ConfigError, match="GiB available"):
        simulate_module.simulate(config)
    assert simulate_module.simulate(config, allow_large=True).sizes["snapshot"] == 2


def test_large_runs_print_their_estimate_first(tmp_path, monkeypatch, capsys):
    """Runs estimated above LARGE_RUN_BYTES (1 GiB) print the estimate as their first line;
    the threshold is lowered to 0 here so a tiny run counts as large."""
    import chemomech.cli.main as cli

    monkeypatch.setattr(cli, "LARGE_RUN_BYTES", 0.0)
    config = write_config(tmp_path, TINY)
    assert main(["run", str(config), "--out", str(tmp_path / "a")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("chemomech: estimated ") and "GiB available" in lines[0]
    assert main(["run", str(config), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().out == ""


# ---- 2. Ctrl-C -------------------------------------------------------------------------
@pytest.mark.slow
def test_ctrl_c_exits_130_with_one_line(tmp_path):
    """SIGINT 1.5 s into the computation (after the progress bar appeared): exit 130 (128 +
    SIGINT, the shell convention) within a few seconds, the one line, no traceback, no
    output or staging directory."""
    config = write_config(tmp_path, SLOW_VOXEL)
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "chemomech.cli.main", "run", str(config), "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_sigint)
    err = b""
    try:
        deadline = time.monotonic() + 120
        while b"%|" not in err and time.monotonic() < deadline:  # the progress bar: computing
            chunk = os.read(process.stderr.fileno(), 4096)
            if not chunk:
                break
            err += chunk
        assert b"%|" in err, err
        time.sleep(1.5)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        stdout, rest = process.communicate(timeout=60)
        stopped = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    err = (err + rest).decode()
    assert process.returncode == 130
    assert stopped < 5.0  # "a second or two"; slack for a loaded test machine
    assert "Traceback" not in err and "SystemError" not in err
    messages = [line.strip() for line in re.split(r"[\r\n]", err) if line.strip() and "%|" not in line]
    assert messages == ["chemomech: interrupted; no output written"]
    assert stdout == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


@pytest.mark.parametrize("error", [
    SystemError("<built-in function x> returned a result with an exception set"),
    KeyboardInterrupt(),
])
def test_interrupt_inside_a_compiled_kernel(tmp_path, monkeypatch, capsys, error):
    """Ctrl-C inside a numba kernel surfaces as a SystemError whose context is the
    KeyboardInterrupt (or as the KeyboardInterrupt itself): exit 130, one line."""
    def interrupted(*args, **kwargs):
        if isinstance(error, SystemError):
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                raise error
        raise error

    monkeypatch.setattr(simulate_module, "simulate", interrupted)
    status = main(["run", str(write_config(tmp_path, TINY)), "--out", str(tmp_path / "run"), "--quiet"])
    assert status == 130
    assert capsys.readouterr().err == "chemomech: interrupted; no output written\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_other_system_errors_are_not_hidden(tmp_path, monkeypatch):
    """A SystemError without an interrupt behind it is a bug: it keeps its traceback."""
    def broken(*args, **kwargs):
        raise SystemError("a real bug")

    monkeypatch.setattr(simulate_module, "simulate", broken)
    with pytest.raises(SystemError, match="a real bug"):
        main(["run", str(write_config(tmp_path, TINY)), "--out", str(tmp_path / "run"), "--quiet"])


def test_cli_module_runs_as_a_script():
    """`python -m chemomech.cli.main` needs the __main__ guard (the Ctrl-C test uses it)."""
    assert 'if __name__ == "__main__":' in (REPO / "chemomech" / "cli" / "main.py").read_text()


# ---- 3. output directory safety ------------------------------------------------------
def test_out_under_a_regular_file_is_refused_before_computing(tmp_path, capsys, no_simulation):
    """A parent that is a regular file can never hold a directory (also as root)."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file")
    config = write_config(tmp_path, TINY)
    assert main(["run", str(config), "--out", str(blocker / "run")]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert str(blocker) in err and "is not a directory" in err
    assert blocker.read_text() == "a file"


def test_out_in_proc_is_refused_before_computing(tmp_path, capsys, no_simulation):
    """/proc accepts no new directories, whoever runs the test."""
    if not Path("/proc/self").exists():
        pytest.skip("no /proc")
    config = write_config(tmp_path, TINY)
    assert main(["run", str(config), "--out", "/proc/chemomech-run"]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "/proc/chemomech-run" in err and "cannot write in '/proc'" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_out_in_a_read_only_directory_is_refused(tmp_path, capsys, no_simulation):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(["run", str(write_config(tmp_path, TINY)), "--out", str(locked / "run")]) == 2
    finally:
        locked.chmod(0o755)
    assert "cannot write in" in one_error_line(capsys.readouterr().err)


def test_force_refuses_a_folder_that_is_not_a_run(tmp_path, capsys, no_simulation):
    """--force replaces only run directories (config.toml + result.nc or summary.json) or
    empty ones; a folder of other files survives untouched."""
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.tex").write_text("precious")
    config = write_config(tmp_path, TINY)
    assert main(["run", str(config), "--out", str(folder), "--force"]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "not a run directory" in err and str(folder) in err
    assert [p.name for p in folder.iterdir()] == ["chapter1.tex"]
    assert (folder / "chapter1.tex").read_text() == "precious"


def test_force_into_an_empty_directory(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    assert main(["run", str(write_config(tmp_path, TINY)), "--out", str(folder), "--force", "--quiet"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["config.toml", "result.nc", "summary.json"]


def test_force_replaces_an_older_run_directory(tmp_path):
    """An older run directory without result.nc (config.toml + summary.json) still counts."""
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.toml").write_text('material = "nc91"\n')
    (folder / "summary.json").write_text("{}\n")
    assert main(["run", str(write_config(tmp_path, TINY)), "--out", str(folder), "--force", "--quiet"]) == 0
    assert (folder / "result.nc").is_file()


def test_out_dot_with_force_in_a_run_directory(tmp_path, monkeypatch):
    """`--out . --force` inside a run directory replaces it and leaves no `..XXXX.old`."""
    config = write_config(tmp_path, TINY)
    run = tmp_path / "run"
    assert main(["run", str(config), "--out", str(run), "--quiet"]) == 0
    monkeypatch.chdir(run)
    changed = write_config(tmp_path, TINY.replace("c_rate = 2.0", "c_rate = 3.0"), "changed.toml")
    assert main(["run", str(changed), "--out", ".", "--force", "--quiet"]) == 0
    monkeypatch.chdir(tmp_path)
    assert tomllib.loads((run / "config.toml").read_text())["protocol"]["c_rate"] == 3.0
    assert sorted(p.name for p in run.iterdir()) == ["config.toml", "result.nc", "summary.json"]
    assert hidden_entries(tmp_path) == []


def test_out_dot_with_force_elsewhere_is_refused(tmp_path, monkeypatch, capsys, no_simulation):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("keep")
    config = write_config(tmp_path, TINY)
    monkeypatch.chdir(work)
    assert main(["run", str(config), "--out", ".", "--force"]) == 2
    assert "not a run directory" in one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt"]
    assert hidden_entries(tmp_path) == []


KILLED_WRITER = """\
import os, signal, sys
from chemomech.io.atomic import staged_directory
with staged_directory(sys.argv[1]) as staging:
    (staging / "config.toml").write_text("half")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_staging_of_a_killed_run_is_removed_by_the_next_run(tmp_path):
    """A writer killed with SIGKILL inside io.atomic.staged_directory leaves its hidden
    staging folder; the next run of the same target removes it. Staging folders of a
    running process (pid 1, or this one) and of other targets stay."""
    out = tmp_path / "run"
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(out)], timeout=120)
    assert killed.returncode == -signal.SIGKILL
    left = hidden_entries(tmp_path)
    assert len(left) == 1 and re.fullmatch(r"\.run\.\d+\.[a-z0-9_]{8}\.tmp", left[0])
    stale_old = tmp_path / f".run.{dead_pid()}.abcdefgh.old"
    live = tmp_path / ".run.1.abcdefgh.tmp"
    mine = tmp_path / f".run.{os.getpid()}.zyxwvuts.tmp"
    other_target = tmp_path / f".other.{dead_pid()}.abcdefgh.tmp"
    for folder in (stale_old, live, mine, other_target):
        folder.mkdir()
    config = write_config(tmp_path, TINY)
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    # a set-aside .old of a killed swap is kept while DIR is missing (it may be the only copy)
    assert sorted(hidden_entries(tmp_path)) == sorted([stale_old.name, live.name, mine.name, other_target.name])
    assert sorted(p.name for p in out.iterdir()) == ["config.toml", "result.nc", "summary.json"]
    assert main(["run", str(config), "--out", str(out), "--quiet", "--force"]) == 0
    assert sorted(hidden_entries(tmp_path)) == sorted([live.name, mine.name, other_target.name])


# ---- 4. messages -----------------------------------------------------------------------
def test_version(capsys):
    """The version of the package (chemomech.__version__, = pyproject.toml's)."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"chemomech {chemomech.__version__}"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == chemomech.__version__


def test_q_prints_only_where_the_output_went(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(write_config(tmp_path, TINY)), "--out", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"-> {out}\n" and captured.err == ""


def test_qq_prints_nothing(tmp_path, capsys):
    assert main(["run", str(write_config(tmp_path, TINY)), "--out", str(tmp_path / "run"), "-qq"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_gitt_summary_line(tmp_path, capsys):
    """A GITT run's titration stops at the pulse that reaches v_max, then the cell rests:
    the line says so, with the pulse count and the voltage after the final rest (both from
    summary.json)."""
    out = tmp_path / "gitt"
    assert main(["run", str(write_config(tmp_path, GITT)), "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["end_reason"] == "v_max"
    assert line.startswith(f"NC91: {summary['pulses']} pulses, titration ended at v_max = 4.5 V; "
                           f"final rest to {summary['voltage_end']:.3f} V")
    assert "[v_max]" not in line and line.endswith(f"-> {out}")
