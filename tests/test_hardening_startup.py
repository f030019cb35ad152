"""Start-up and first use: `import chemomech` stays light (no plotting, X-ray tables,
dask.distributed or numba), the CLI starts, the kernels' compile notice and cache
directory, the xrd progress bar and the validate table's width (100 columns)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from chemomech import kernels_warmup
from chemomech.cli.main import main
from chemomech.validation.core import Case, CaseResult, Outcome, Row
from chemomech.validation.report import format_table

HEAVY_MODULES = ("matplotlib", "xraydb", "distributed", "dask", "numba", "scipy.optimize", "xarray")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_chemomech_loads_no_heavy_module():
    code = ("import json, sys, chemomech\n"
            f"print(json.dumps([m for m in {HEAVY_MODULES!r} if m in sys.modules]))")
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


@pytest.mark.slow
def test_a_1d_run_loads_neither_dask_distributed_nor_scipy_spatial(tmp_path):
    """`chemomech run` of a 1-D sphere: result.nc is written without asking dask for its
    scheduler (rundir.write_netcdf), and the voxel geometry's scipy.spatial/ndimage load
    only where a polycrystal or a smoothed surface needs them (each ~0.3 s of start-up)."""
    config = tmp_path / "tiny.toml"
    config.write_text('material = "nc91"\n[particle]\ngeometry = "sphere-1d"\ncells = 20\n'
                      '[output]\nsnapshots = 2\n')
    code = ("import json, sys\nfrom chemomech.cli.main import main\n"
            f"assert main(['run', {str(config)!r}, '--out', {str(tmp_path / 'run')!r}, '--quiet']) == 0\n"
            "print(json.dumps([m for m in ('distributed', 'scipy.spatial', 'scipy.ndimage') if m in sys.modules]))")
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert (tmp_path / "run" / "result.nc").is_file()


@pytest.mark.slow
def test_public_api_still_reachable():
    code = ("import types\n"
            "from chemomech.simulation.run import summary_of  # the submodule first: cm.simulate stays the function\n"
            "import chemomech as cm\n"
            "assert not isinstance(cm.simulate, types.ModuleType) and cm.simulate.__name__ == 'simulate'\n"
            "from chemomech import simulate\n"
            "assert simulate is cm.simulate\n"
            "from chemomech.observables import crystallography\n"
            "from chemomech.mechanics import solve_elasticity, sphere_stress_from_x\n"
            "assert callable(cm.simulate) and callable(cm.load_material) and callable(cm.observables.xrd)\n"
            "assert callable(cm.observables.sxdm) and callable(cm.observables.xanes)\n"
            "assert callable(cm.analysis.gitt_diffusivity) and cm.Material.__name__ == 'Material'\n"
            "assert {'simulate', 'observables', 'load_material'} <= set(dir(cm))\n"
            "print(cm.load_material('nc91').capacity_nominal)")
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == pytest.approx(270.0)


def test_unknown_attribute_is_an_attribute_error():
    import chemomech
    import chemomech.mechanics
    import chemomech.observables

    for module in (chemomech, chemomech.observables, chemomech.mechanics):
        with pytest.raises(AttributeError):
            module.no_such_name  # noqa: B018


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["xrd", "--help"], ["validate", "--help"]])
def test_cli_help_exits_zero(argv):
    script = shutil.which("chemomech")
    command = [script] if script else [sys.executable, "-m", "chemomech.cli.main"]
    done = subprocess.run(command + argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: chemomech" in done.stdout


# ---- compile notice and cache directory ---------------------------------------------------
def test_compile_notice_is_written_once():
    stream = io.StringIO()
    notice = kernels_warmup.CompileNotice(stream)
    assert not notice.shown
    notice.on_start()
    notice.on_start()
    notice.on_end()
    assert stream.getvalue().splitlines() == [kernels_warmup.COMPILE_MESSAGE]
    assert notice.shown


def test_compile_notice_fires_on_compilation_only():
    """The listener sees numba's compile event (a cache miss), not calls of compiled code."""
    from numba import njit
    from numba.core import event

    @njit
    def twice(value):
        return 2.0 * value

    stream = io.StringIO()
    listener = kernels_warmup.compile_listener(stream)
    with event.install_listener("numba:compile", listener):
        assert twice(1.5) == 3.0  # compiles: the notice
    assert stream.getvalue() == kernels_warmup.COMPILE_MESSAGE + "\n"

    already = io.StringIO()
    with event.install_listener("numba:compile", kernels_warmup.compile_listener(already)):
        assert twice(2.5) == 5.0  # compiled before: silent
    assert already.getvalue() == ""


def test_sphere_kernels_have_one_specialisation_each():
    from chemomech.transport import integrator, sphere_kernels

    kernels = [sphere_kernels.table_lookup, sphere_kernels.solve_tridiagonal, sphere_kernels.surface_x,
               sphere_kernels.voltage_at, sphere_kernels.potentiostatic_current, sphere_kernels.implicit_step,
               integrator.local_error]
    for kernel in kernels:
        assert len(kernel.signatures) == 1, kernel.__name__


def test_cache_dir_falls_back_to_the_user_cache(tmp_path, monkeypatch):
    environ = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    monkeypatch.setattr(kernels_warmup, "_writable", lambda directory: False)  # a read-only install
    chosen = kernels_warmup.configure_cache_dir(environ=environ)
    assert chosen == str(tmp_path / "cache" / "chemomech" / "numba")
    assert environ["NUMBA_CACHE_DIR"] == chosen and os.path.isdir(chosen)


def test_cache_dir_left_alone_when_writable_or_chosen(tmp_path, monkeypatch):
    environ = {"NUMBA_CACHE_DIR": str(tmp_path / "mine")}
    monkeypatch.setattr(kernels_warmup, "_writable", lambda directory: False)
    assert kernels_warmup.configure_cache_dir(environ=environ) is None
    assert environ == {"NUMBA_CACHE_DIR": str(tmp_path / "mine")}
    monkeypatch.setattr(kernels_warmup, "_writable", lambda directory: True)
    environ = {}
    assert kernels_warmup.configure_cache_dir(environ=environ) is None
    assert environ == {}


def test_user_cache_dir_default():
    assert kernels_warmup.user_cache_dir({}).parts[-3:] == (".cache", "chemomech", "numba")


# ---- xrd progress -------------------------------------------------------------------------
class _Bar:
    def __init__(self):
        self.n, self.labels = 0, []

    def update(self, steps):
        self.n += steps

    def set_description_str(self, label, refresh=True):
        self.labels.append(label)


def test_xrd_refinement_advances_the_bar_per_pattern():
    from chemomech.cli.xrd_command import _refine_with_progress

    def refine(two_theta, intensity, progress=None):
        for i in range(len(intensity)):
            progress(i + 1, len(intensity))
        return "lattice"

    bar = _Bar()
    assert _refine_with_progress(refine, bar, [0.0], [[1.0]] * 4) == "lattice"
    assert bar.n == 4 and bar.labels[-1] == "refining pattern 4/4"


def test_xrd_refinement_without_progress_callback():
    from chemomech.cli.xrd_command import _refine_with_progress

    bar = _Bar()
    assert _refine_with_progress(lambda two_theta, intensity: "lattice", bar, [0.0], [[1.0]] * 3) == "lattice"
    assert bar.n == 3
    assert _refine_with_progress(lambda two_theta, intensity: "quiet", None, [0.0], [[1.0]]) == "quiet"


def test_xrd_has_quiet():
    from chemomech.cli.main import build_parser

    args = build_parser().parse_args(["xrd", "some-run", "--quiet"])
    assert args.quiet is True


# ---- validate table width -----------------------------------------------------------------
def _result(name, rows, error=""):
    case = Case(name, "analytical", "a case", lambda: Outcome(rows), 0.0)
    return CaseResult(case, Outcome(rows), 0.1, error)


def test_table_fits_100_columns_with_long_fields():
    long_source = "Timoshenko & Goodier (thermal stress in a sphere); bound from tests/" + "x" * 150
    rows = [Row("a quantity with a long explanation " * 4, "0 (exact)", long_source, 1e-5, "<= 1e-4", "pass"),
            Row("short", "1.0", "the study", 1.0, "+- 0.1", "pass"),
            Row("unlimited", "0.123456789012345678", "the study", 0.5, "bound", "fail", "0.1234567890123456789")]
    results = [_result("analytical-with-a-rather-long-name", rows),
               _result("broken", [], error="ValueError: " + "went wrong " * 30)]
    text = format_table(results)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "[1]" in text and "[2]" in text and "the study" in text
    assert "ValueError" in text and text.splitlines()[-1].startswith("FAILED")


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` under a minute
def test_validate_quick_output_fits_100_columns(tmp_path, capsys):
    status = main(["validate", "--quick", "--quiet", "--out", str(tmp_path / "report")])
    assert status == 0
    printed = capsys.readouterr().out
    assert "calibration-nc91" in printed and "pass" in printed
    assert max(len(line) for line in printed.splitlines()) <= 100


def test_validate_list_fits_100_columns(tmp_path, capsys):
    assert main(["validate", "--list", "--out", str(tmp_path / "never")]) == 0
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 100
