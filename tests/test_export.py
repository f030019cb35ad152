"""Export of a voxel-run snapshot to VTU / XDMF, read back with meshio."""

from __future__ import annotations

import meshio
import numpy as np
import pytest
import xarray as xr

from chemomech.errors import ConfigError
from chemomech.io import export as export_module
from chemomech.io.export import export_run, export_snapshot

H_UM = 0.1  # voxel edge [um]
SHAPE = (4, 5, 6)  # z, y, x
TIMES = np.array([0.0, 600.0, 1200.0])  # snapshot times [s]

# the six tetrahedra of a VTK hexahedron around its 0-6 diagonal; all have positive volume
# exactly when the node order is right
HEX_TETRAHEDRA = [(0, 1, 2, 6), (0, 2, 3, 6), (0, 3, 7, 6), (0, 7, 4, 6), (0, 4, 5, 6), (0, 5, 1, 6)]


def synthetic_run() -> tuple[xr.Dataset, np.ndarray]:
    """A small voxel-run Dataset: an ellipsoidal particle in a 4 x 5 x 6 box (touching the
    box in places), fields NaN outside, a vector field, a static grain field and a time
    series that is not a field. Returns the Dataset and the particle mask."""
    nz, ny, nx = SHAPE
    h = H_UM * 1e-6
    z, y, x = ((np.arange(n) - 0.5 * (n - 1)) * h for n in SHAPE)
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    mask = (zz / (2 * h)) ** 2 + (yy / (2.5 * h)) ** 2 + (xx / (3 * h)) ** 2 <= 1.0
    flat = np.arange(mask.size, dtype=np.float64).reshape(SHAPE)
    snap = np.arange(len(TIMES))[:, None, None, None]
    x_li = np.where(mask, 0.01 * flat + snap, np.nan)
    stress = np.where(mask, -1e6 * flat - 1e8 * snap, np.nan)
    rotation = np.stack([np.where(mask, 1.0 * flat + 100 * snap, np.nan),
                         np.where(mask, 2.0 * flat + 100 * snap, np.nan),
                         np.where(mask, 3.0 * flat + 100 * snap, np.nan)], axis=1)  # x, y, z
    grain = np.where(mask, (xx > 0).astype(np.int32), -1)
    ds = xr.Dataset(
        {
            "x_li": (("snapshot", "z", "y", "x"), x_li, {"units": "1"}),
            "stress_hydrostatic": (("snapshot", "z", "y", "x"), stress, {"units": "Pa"}),
            "lattice_rotation": (("snapshot", "component", "z", "y", "x"), rotation, {"units": "rad"}),
            "grain": (("z", "y", "x"), grain),
            "voltage": (("time",), np.linspace(3.7, 4.2, 7), {"units": "V"}),
        },
        coords={"z": z, "y": y, "x": x, "component": ["x", "y", "z"],
                "snapshot_time": ("snapshot", TIMES), "time": np.linspace(0, 1200, 7)},
    )
    return ds, mask


def tetrahedron_volumes(points: np.ndarray, hexahedra: np.ndarray) -> np.ndarray:
    """Signed volumes of the six tetrahedra of each hexahedron, shape (n_cells, 6)."""
    volumes = []
    for a, b, c, d in HEX_TETRAHEDRA:
        pa = points[hexahedra[:, a]]
        edges = np.stack([points[hexahedra[:, k]] - pa for k in (b, c, d)], axis=1)
        volumes.append(np.linalg.det(edges) / 6.0)
    return np.stack(volumes, axis=1)


def read_back(path):
    """meshio.Mesh from a VTU file, or from our one-step XDMF time series (with its time
    put into field_data["TimeValue"] for the comparison)."""
    if path.suffix == ".vtu":
        return meshio.read(path)
    with meshio.xdmf.TimeSeriesReader(path) as reader:
        points, cells = reader.read_points_cells()
        assert reader.num_steps == 1
        time, point_data, cell_data = reader.read_data(0)
    return meshio.Mesh(points, cells, point_data=point_data, cell_data=cell_data, field_data={"TimeValue": time})


@pytest.mark.parametrize("file_format", ["vtu", "xdmf"])
def test_export_round_trip(tmp_path, file_format):
    ds, mask = synthetic_run()
    path = export_snapshot(ds, 1, tmp_path / f"particle.{file_format}", file_format)
    mesh = read_back(path)
    n_cells = int(mask.sum())

    hexahedra = mesh.cells_dict["hexahedron"]
    assert hexahedra.shape == (n_cells, 8)
    # positive hexahedra that fill exactly the solid volume (coordinates in um)
    volumes = tetrahedron_volumes(mesh.points, hexahedra)
    assert np.all(volumes > 0)
    np.testing.assert_allclose(volumes.sum(axis=1), H_UM**3, rtol=1e-9)
    assert volumes.sum() == pytest.approx(n_cells * H_UM**3, rel=1e-9)
    # shared corners are one point: count the distinct corners of the solid voxels
    iz, iy, ix = np.nonzero(mask)
    corners = {(k + dz, j + dy, i + dx) for k, j, i in zip(iz, iy, ix)
               for dz in (0, 1) for dy in (0, 1) for dx in (0, 1)}
    assert len(mesh.points) == len(corners) == len(np.unique(mesh.points, axis=0))
    # cell centres sit at the voxel centres, in um, x y z order
    centres = mesh.points[hexahedra].mean(axis=1)
    np.testing.assert_allclose(centres, 1e6 * np.column_stack(
        [ds.x.values[ix], ds.y.values[iy], ds.z.values[iz]]), atol=1e-9)

    # cell data: the snapshot's values in the voxels' C order, vectors in x, y, z order
    data = {name: values[0] for name, values in mesh.cell_data.items()}
    assert set(data) == {"x_li", "stress_hydrostatic", "lattice_rotation", "grain"}
    np.testing.assert_array_equal(data["x_li"], ds.x_li.values[1][mask])
    np.testing.assert_array_equal(data["stress_hydrostatic"], ds.stress_hydrostatic.values[1][mask])
    np.testing.assert_array_equal(data["grain"], ds.grain.values[mask])
    assert data["lattice_rotation"].shape == (n_cells, 3)
    np.testing.assert_array_equal(data["lattice_rotation"], np.moveaxis(ds.lattice_rotation.values[1], 0, -1)[mask])

    assert mesh.field_data["TimeValue"] == pytest.approx(TIMES[1])
    if file_format == "vtu":
        assert mesh.field_data["snapshot_index"] == 1
        assert mesh.field_data["length_unit_m"] == pytest.approx(1e-6)
    else:
        assert path.with_suffix(".h5").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_vector_components_are_reordered_to_xyz(tmp_path):
    ds, mask = synthetic_run()
    shuffled = ds.isel(component=[2, 0, 1]).transpose("snapshot", "x", "component", "y", "z", ...)
    mesh = meshio.read(export_snapshot(shuffled, 2, tmp_path / "p.vtu", "vtu"))
    np.testing.assert_array_equal(mesh.cell_data["lattice_rotation"][0],
                                  np.moveaxis(ds.lattice_rotation.values[2], 0, -1)[mask])
    np.testing.assert_array_equal(mesh.cell_data["x_li"][0], ds.x_li.values[2][mask])


def test_export_run_defaults_to_the_last_snapshot(tmp_path):
    ds, mask = synthetic_run()
    ds.to_netcdf(tmp_path / "result.nc", engine="h5netcdf")
    path = export_run(tmp_path)
    assert path == tmp_path / "snapshot_2.vtu"
    np.testing.assert_array_equal(meshio.read(path).cell_data["x_li"][0], ds.x_li.values[2][mask])
    path = export_run(tmp_path, snapshot=0, file_format="xdmf")
    assert path == tmp_path / "snapshot_0.xdmf" and (tmp_path / "snapshot_0.h5").is_file()
    np.testing.assert_array_equal(read_back(path).cell_data["x_li"][0], ds.x_li.values[0][mask])
    out = export_run(tmp_path, snapshot=1, out_path=tmp_path / "sub" / "mine.vtu")
    assert out.is_file()
    with pytest.raises(ConfigError, match="result.nc"):
        export_run(tmp_path / "sub")


def test_export_errors(tmp_path):
    ds, _ = synthetic_run()
    with pytest.raises(ConfigError, match=r"snapshot 3 .*0\.\.2"):
        export_snapshot(ds, 3, tmp_path / "p.vtu", "vtu")
    with pytest.raises(ConfigError, match=r"0\.\.2"):
        export_snapshot(ds, -1, tmp_path / "p.vtu", "vtu")
    with pytest.raises(ConfigError, match="vtu, xdmf"):
        export_snapshot(ds, 0, tmp_path / "p.vtk", "vtk")
    with pytest.raises(ConfigError, match=r"\.xdmf"):
        export_snapshot(ds, 0, tmp_path / "p.vtu", "xdmf")
    sphere = xr.Dataset({"x_li": (("snapshot", "r"), np.zeros((2, 10)))},
                        coords={"r": np.linspace(0, 1e-6, 10), "snapshot_time": ("snapshot", [0.0, 1.0])})
    with pytest.raises(ConfigError, match="voxel run"):
        export_snapshot(sphere, 0, tmp_path / "p.vtu", "vtu")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("file_format", ["vtu", "xdmf"])
def test_failed_write_leaves_the_old_file_and_no_partial_file(tmp_path, monkeypatch, file_format):
    ds, _ = synthetic_run()
    target = tmp_path / f"p.{file_format}"
    target.write_text("previous export")

    def broken_write(path, mesh, file_format):
        with open(path, "w") as handle:
            handle.write("<half")
        raise OSError("disk full")

    monkeypatch.setattr(export_module.meshio, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        export_snapshot(ds, 0, target, file_format)
    assert target.read_text() == "previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
