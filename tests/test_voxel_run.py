"""Voxel runs end to end: cm.simulate for a single crystal and a polycrystal, the
result.nc contract over (z, y, x), the CLI commands run / slices / export, and the
configuration errors of the voxel keys."""

from __future__ import annotations

import json

import meshio
import numpy as np
import pytest

import chemomech as cm
from chemomech.cli.main import main
from chemomech.io.config import resolve_config
from chemomech.errors import ConfigError

POLY = {
    "material": "nm91",
    "particle": {"geometry": "polycrystal", "radius_um": 0.5, "voxel_nm": 50.0,
                 "grain_size_um": 0.25, "seed": 3},
    "protocol": {"c_rate": 0.5},
    "output": {"snapshots": 3},
}
FIELDS = ("x_li", "stress_hydrostatic", "stress_von_mises", "d_spacing_003",
          "elastic_strain_c", "elastic_strain_a")


@pytest.fixture(scope="module")
def single(small_voxel_result):
    """conftest's NC91 single crystal (R = 0.5 um, 50 nm voxels, 1C, mechanics on)."""
    return small_voxel_result


@pytest.fixture(scope="module")
def poly():
    return cm.simulate(POLY)


def test_single_crystal_dataset_contract(single):
    ds = single
    solid = ds["grain"].values >= 0
    for name in FIELDS:
        assert ds[name].dims == ("snapshot", "z", "y", "x")
        assert "units" in ds[name].attrs
        values = ds[name].values
        assert np.all(np.isnan(values[:, ~solid])), name
        assert np.all(np.isfinite(values[:, solid])), name
    assert ds["lattice_rotation"].dims == ("snapshot", "component", "z", "y", "x")
    assert list(ds["component"].values) == ["x", "y", "z"]
    for axis in "zyx":
        assert ds[axis].attrs["units"] == "m"
        assert np.allclose(np.diff(ds[axis]), 50e-9)
    # a 0.5 um crystal at 1C: the 1-D sphere of that size reaches ~0.92 SoC; 0.5 only
    # guards against a run that stopped early. Li balance: the Newton tolerance (1e-6 per
    # step, relative ~1e-6 of a step's charge) bounds it.
    assert ds.attrs["soc_end"] > 0.5 and ds.attrs["end_reason"] == "v_max"
    assert ds.attrs["li_balance_error"] < 1e-6


def test_initial_snapshot_is_unstrained(single):
    # snapshot 0 is the uniform starting state: the eigenstrain is zero (relative to
    # x_initial) up to the float32 storage of x (~1e-8 in strain, ~1 kPa in stress), so
    # stress and rotation vanish on the MPa-GPa scale of a charge and d_003 = c(x0)/3
    material = cm.load_material("nc91")
    first = single.isel(snapshot=0)
    solid = single["grain"].values >= 0
    assert np.nanmax(np.abs(first["stress_von_mises"].values)) < 1e3
    assert np.nanmax(np.abs(first["lattice_rotation"].values)) < 1e-8
    expected = material.lattice_c(material.x_initial) / 3.0
    np.testing.assert_allclose(first["d_spacing_003"].values[solid], expected, rtol=1e-6)


def test_d_spacing_is_strained_local_c(single):
    material = cm.load_material("nc91")
    last = single.isel(snapshot=-1)
    solid = single["grain"].values >= 0
    x = last["x_li"].values[solid].astype(float)
    strain_c = last["elastic_strain_c"].values[solid].astype(float)
    d = last["d_spacing_003"].values[solid].astype(float)
    np.testing.assert_allclose(d, material.lattice_c(x) / 3.0 * (1.0 + strain_c), rtol=1e-6)
    # a charged crystal with a Li gradient is strained: the lattice eigenstrain is ~1e-2
    # and its spread ~1e-3, so tilts of ~1e-3 rad and stresses of ~E * 1e-3 ~ 100 MPa;
    # the bounds are 10x below those scales (nonzero, not a magnitude check)
    assert np.nanmax(np.abs(last["lattice_rotation"].values)) > 1e-4
    assert single.attrs["stress_von_mises_max_mpa"] > 10


def test_polycrystal_grain_boundary_tractions(poly):
    ds = poly
    # geometry.voxel.polycrystal places 8 R^3 / d^3 = 64 seeds (R = 0.5 um, d = 0.25 um);
    # a seed that owns no voxel is dropped, so a few fewer grains are allowed
    assert 0.9 * 64 <= ds.attrs["grains"] <= 64
    assert ds["gb_normal_traction"].dims == ("snapshot", "gb_face")
    assert ds["gb_face_position"].dims == ("gb_face", "component")
    normal = ds["gb_normal_traction"].values
    shear = ds["gb_shear_traction"].values
    # the uniform initial state carries no traction; the charged one does
    assert np.abs(normal[0]).max() < 1e3 and np.abs(shear[0]).max() < 1e3
    magnitude = np.hypot(normal[-1], shear[-1])
    assert ds.attrs["gb_traction_max_mpa"] == pytest.approx(magnitude.max() / 1e6, rel=1e-5)
    assert 0 < ds.attrs["gb_traction_p95_mpa"] <= ds.attrs["gb_traction_max_mpa"]
    assert ds.attrs["gb_faces"] == ds.sizes["gb_face"]


@pytest.mark.slow
def test_cli_run_slices_export(tmp_path):
    config = tmp_path / "sc.toml"
    config.write_text(
        'material = "nm91"\n[particle]\ngeometry = "single-crystal"\nshape = "platelet"\n'
        'radius_um = 0.4\naspect = 2.0\nvoxel_nm = 50\neuler_deg = [0.0, 30.0, 0.0]\n'
        '[protocol]\nc_rate = 2.0\n[output]\nsnapshots = 3\n'
    )
    run = tmp_path / "run"
    assert main(["run", str(config), "--out", str(run), "--quiet"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["grains"] == 1 and "lattice_tilt_max_end_deg" in summary
    figure = tmp_path / "slices.png"
    assert main(["slices", str(run), "--out", str(figure)]) == 0
    assert figure.stat().st_size > 10_000
    assert main(["export", str(run), "--format", "vtu"]) == 0
    mesh = meshio.read(run / "snapshot_2.vtu")
    assert len(mesh.cells_dict["hexahedron"]) == summary["voxels"]
    assert "x_li" in mesh.cell_data and "lattice_rotation" in mesh.cell_data


def test_cli_errors_on_1d_runs(tmp_path, capsys):
    run = tmp_path / "sphere"
    config = tmp_path / "s.toml"
    config.write_text('material = "nc91"\n[particle]\ncells = 20\n[output]\nsnapshots = 3\n')
    assert main(["run", str(config), "--out", str(run), "--quiet"]) == 0
    assert main(["slices", str(run), "--out", str(tmp_path / "f.png")]) == 2
    assert "voxel run" in capsys.readouterr().err
    assert main(["export", str(run)]) == 2
    assert "voxel" in capsys.readouterr().err


@pytest.mark.parametrize(
    "particle, words",
    [
        ({"geometry": "single-crystal", "radius_um": 0.1, "voxel_nm": 100.0}, "particle.voxel_nm"),
        ({"geometry": "single-crystal", "c_axis": [0.0, 0.0, 0.0]}, "particle.c_axis"),
        ({"geometry": "single-crystal", "c_axis": [1.0, 0.0]}, "three numbers"),
        ({"geometry": "single-crystal", "c_axis": [1.0, 0.0, 0.0], "euler_deg": [0.0, 1.0, 0.0]}, "give one orientation"),
        ({"geometry": "single-crystal", "shape": "cube"}, "'sphere', 'platelet'"),
        ({"geometry": "polycrystal", "grain_size_um": -1.0}, "particle.grain_size_um"),
    ],
)
def test_voxel_config_errors(particle, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace("[", r"\[")):
        resolve_config({"material": "nc91", "particle": particle})


def test_solver_defaults_depend_on_geometry():
    voxel = resolve_config({"material": "nc91", "particle": {"geometry": "single-crystal"}})
    sphere = resolve_config({"material": "nc91"})
    assert voxel["solver"] == {"tolerance": 1e-3, "max_step_fraction": 0.05}
    assert sphere["solver"] == {"tolerance": 2e-4, "max_step_fraction": 0.005}


def test_fields_without_mechanics_allocate_x_only(monkeypatch):
    """With output.mechanics = false a run keeps x_li alone: the snapshot fields take
    snapshots x box voxels x 4 B (float32) once, not once per mechanics field (a 25 nm
    crystal allocated nine such arrays, 1.6 GB more than it used). Measured with
    tracemalloc (numpy reports its allocations to it) around VoxelRun.fields."""
    import tracemalloc

    from chemomech.simulation.voxels import VoxelRun

    measured = {}
    original = VoxelRun.fields

    def traced(self, solution, plan, progress=False):
        tracemalloc.start()
        try:
            result = original(self, solution, plan, progress)
            measured["peak"] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        measured["x_bytes"] = len(plan) * self.particle.mask.size * 4
        return result

    monkeypatch.setattr(VoxelRun, "fields", traced)
    ds = cm.simulate({**POLY, "material": "nc91", "output": {"snapshots": 12, "mechanics": False}})
    assert "x_li" in ds and "stress_hydrostatic" not in ds and "lattice_rotation" not in ds
    assert measured["peak"] < 2.0 * measured["x_bytes"]  # nine arrays before: 9x
