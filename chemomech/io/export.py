"""Export one snapshot of a voxel run to an unstructured hexahedral mesh (VTU or XDMF).

The mesh holds the particle voxels only: the cells where x_li is finite at that snapshot.
Each voxel is a VTK hexahedron on the voxel corners; corners shared by neighbouring voxels
are one point. Point coordinates are in MICROMETRES (x, y, z order, origin as in the run's
z, y, x coordinates), the natural unit for a particle a few um across; every field keeps
the unit of its variable (attrs["units"] in result.nc: x_li [-], stresses [Pa], ...).

Cell data:
- every variable with dims (snapshot, z, y, x): its value at the snapshot, a scalar;
- every variable with dims (snapshot, component, z, y, x), component = "x", "y", "z" in
  any order: a 3-vector in x, y, z order;
- every static variable with dims (z, y, x) (e.g. grain): a scalar.
Other variables (time series such as voltage) are not part of a snapshot and are skipped.

Snapshot time: meshio writes no field data for VTU or XDMF, so it is added to the file
after meshio has written it.
- VTU: a <FieldData> block with TimeValue [s] (the name ParaView reads as the time),
  snapshot_index and length_unit_m = 1e-6 (metres per coordinate unit). meshio.read
  returns them in mesh.field_data.
- XDMF: meshio's plain grid is wrapped in a one-step temporal collection carrying
  <Time Value="t [s]"/>, the XDMF way to give a grid a time (ParaView shows it). Read it
  back with meshio.xdmf.TimeSeriesReader (meshio.read reads only a bare grid); the heavy
  data are in a .h5 file beside the .xdmf (same stem).

Files are written into a temporary directory beside the target and moved into place with
os.replace, so a failure never leaves a half-written file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import meshio
import numpy as np
import xarray as xr

from chemomech.errors import ConfigError

FORMATS = ("vtu", "xdmf")
GRID_DIMS = ("z", "y", "x")
METRES_PER_UNIT = 1e-6  # point coordinates are written in micrometres

# Corners of a voxel as (dz, dy, dx) offsets in VTK_HEXAHEDRON order: 0-3 the bottom face
# (z low) counter-clockwise seen from +z, 4-7 the top face above them. Node 0 at the origin
# with 1 along +x and 3 along +y makes (1-0) x (3-0) . (4-0) > 0: a positive volume.
HEXAHEDRON_CORNERS = np.array([
    (0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 0),
    (1, 0, 0), (1, 0, 1), (1, 1, 1), (1, 1, 0),
])


def export_snapshot(ds: xr.Dataset, snapshot: int, path: str | Path, file_format: str = "vtu") -> Path:
    """Write snapshot `snapshot` (0-based index along `snapshot`) of the voxel-run Dataset
    `ds` to `path` as a hexahedral mesh of the particle voxels (see module docstring).
    file_format "vtu" (path must end in .vtu) or "xdmf" (path ends in .xdmf; a .h5 with
    the same stem is written beside it). Returns the path written.
    Raises ConfigError for a non-voxel Dataset, a missing snapshot or an unknown format."""
    path = Path(path)
    _check_format(file_format, path)
    _check_voxel_dataset(ds)
    n_snapshots = ds.sizes["snapshot"]
    if isinstance(snapshot, bool) or not isinstance(snapshot, (int, np.integer)) or not 0 <= snapshot < n_snapshots:
        raise ConfigError(f"snapshot {snapshot!r} does not exist; valid snapshots are 0..{n_snapshots - 1}")
    snapshot = int(snapshot)

    solid = np.isfinite(ds["x_li"].isel(snapshot=snapshot).transpose(*GRID_DIMS).values)
    if not solid.any():
        raise ConfigError(f"snapshot {snapshot}: x_li is NaN everywhere, no particle voxels to export")
    points, hexahedra = voxel_hexahedra(solid, *(ds[d].values for d in GRID_DIMS))
    mesh = meshio.Mesh(points / METRES_PER_UNIT, [("hexahedron", hexahedra)],
                       cell_data={name: [values] for name, values in _cell_fields(ds, snapshot, solid).items()})
    field_data = {
        "TimeValue": float(ds["snapshot_time"].values[snapshot]) if "snapshot_time" in ds else float(snapshot),
        "snapshot_index": snapshot,
        "length_unit_m": METRES_PER_UNIT,
    }
    _write_atomically(mesh, path, file_format, field_data)
    return path


def export_run(run_dir: str | Path, snapshot: int | None = None, file_format: str = "vtu",
               out_path: str | Path | None = None) -> Path:
    """Export one snapshot of the voxel run in run_dir (reads run_dir/result.nc).
    snapshot None = the last one. Default output run_dir/snapshot_<k>.vtu, or
    run_dir/snapshot_<k>.xdmf + .h5 (k = the snapshot index). Returns the path written."""
    run_dir = Path(run_dir)
    result = run_dir / "result.nc"
    if not result.is_file():
        raise ConfigError(f"{str(result)!r} not found; export needs a run directory written by `chemomech run`")
    if file_format not in FORMATS:
        raise ConfigError(f"file_format {file_format!r} is unknown; allowed: {', '.join(FORMATS)}")
    with xr.open_dataset(result, engine="h5netcdf") as ds:
        _check_voxel_dataset(ds)
        if snapshot is None:
            snapshot = ds.sizes["snapshot"] - 1
        path = Path(out_path) if out_path is not None else run_dir / f"snapshot_{snapshot}.{file_format}"
        return export_snapshot(ds, snapshot, path, file_format)


def voxel_hexahedra(solid: np.ndarray, z: np.ndarray, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points and VTK hexahedra of the voxels where `solid` (nz, ny, nx) is True.

    z, y, x: voxel-centre coordinates [m], uniformly spaced. The corners along each axis are
    c_0 - h/2 + k h, k = 0..n. Only corners used by a solid voxel become points, numbered
    in C order of the corner grid (nz+1, ny+1, nx+1). Returns points (n_points, 3) in x, y, z
    order [m] and hexahedra (n_cells, 8) of point indices, cells in C order of the voxels.
    """
    edges = [_corner_coordinates(np.asarray(c, dtype=np.float64), name) for c, name in zip((z, y, x), GRID_DIMS)]
    corner_shape = tuple(len(e) for e in edges)
    iz, iy, ix = np.nonzero(solid)
    corner_index = np.ravel_multi_index(
        (iz[:, None] + HEXAHEDRON_CORNERS[:, 0], iy[:, None] + HEXAHEDRON_CORNERS[:, 1],
         ix[:, None] + HEXAHEDRON_CORNERS[:, 2]), corner_shape)
    used, hexahedra = np.unique(corner_index, return_inverse=True)
    cz, cy, cx = np.unravel_index(used, corner_shape)
    points = np.column_stack([edges[2][cx], edges[1][cy], edges[0][cz]])
    return points, hexahedra.reshape(corner_index.shape).astype(np.int64)


def _corner_coordinates(centres: np.ndarray, name: str) -> np.ndarray:
    """Voxel-corner coordinates from uniformly spaced voxel centres (at least 2)."""
    if centres.ndim != 1 or centres.size < 2:
        raise ConfigError(f"coordinate {name!r} must be 1-D with at least 2 voxel centres")
    spacing = np.diff(centres)
    h = spacing.mean()
    if not (h > 0 and np.allclose(spacing, h, rtol=1e-6, atol=0.0)):
        raise ConfigError(f"coordinate {name!r} must be increasing with uniform spacing (voxel centres)")
    return centres[0] - 0.5 * h + h * np.arange(centres.size + 1)


def _cell_fields(ds: xr.Dataset, snapshot: int, solid: np.ndarray) -> dict[str, np.ndarray]:
    """The snapshot's cell data: scalars (n_cells,) and x, y, z vectors (n_cells, 3)."""
    fields = {}
    for name, variable in ds.data_vars.items():
        dims = set(variable.dims)
        if dims == {"snapshot", *GRID_DIMS}:
            values = variable.isel(snapshot=snapshot).transpose(*GRID_DIMS).values[solid]
        elif dims == {"snapshot", "component", *GRID_DIMS}:
            labels = [str(c) for c in variable["component"].values] if "component" in variable.coords else []
            if sorted(labels) != ["x", "y", "z"]:
                raise ConfigError(f"vector field {name!r}: component coordinate must be x, y, z, got {labels}")
            vector = variable.isel(snapshot=snapshot).sel(component=["x", "y", "z"])
            values = vector.transpose(*GRID_DIMS, "component").values[solid]
        elif dims == set(GRID_DIMS):
            values = variable.transpose(*GRID_DIMS).values[solid]
        else:
            continue
        if values.dtype.kind == "b":
            values = values.astype(np.int8)
        fields[str(name)] = np.ascontiguousarray(values)
    return fields


def _check_format(file_format: str, path: Path) -> None:
    if file_format not in FORMATS:
        raise ConfigError(f"file_format {file_format!r} is unknown; allowed: {', '.join(FORMATS)}")
    if path.suffix != f".{file_format}":
        raise ConfigError(f"output path {str(path)!r} must end in .{file_format} for file_format {file_format!r}")


def _check_voxel_dataset(ds: xr.Dataset) -> None:
    if "r" in ds.dims and not set(GRID_DIMS) <= set(ds.dims):
        raise ConfigError("export needs a voxel run (dims z, y, x); this is a 1-D sphere run (dim r), "
                          "which has no 3-D mesh to export")
    missing = [d for d in ("snapshot", *GRID_DIMS) if d not in ds.dims]
    if missing or "x_li" not in ds:
        raise ConfigError(f"export needs a voxel run: variable x_li with dims (snapshot, z, y, x); "
                          f"missing {', '.join(missing) or 'x_li'}")


def _write_atomically(mesh: meshio.Mesh, path: Path, file_format: str, field_data: dict) -> None:
    """Write into a temporary directory beside `path` under the final names (the XDMF file
    refers to its .h5 by name), then os.replace each file into place (.h5 first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        staged = staging / path.name
        meshio.write(staged, mesh, file_format=file_format)
        if file_format == "vtu":
            _add_vtu_field_data(staged, field_data)
            os.replace(staged, path)
        else:
            _make_xdmf_temporal(staged, field_data["TimeValue"])
            os.replace(staged.with_suffix(".h5"), path.with_suffix(".h5"))
            os.replace(staged, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _add_vtu_field_data(path: Path, field_data: dict) -> None:
    """Insert <FieldData> (one ASCII value per array) after the <UnstructuredGrid> tag."""
    arrays = "".join(
        f'<DataArray type="{"Int64" if isinstance(v, int) else "Float64"}" Name="{k}" '
        f'NumberOfTuples="1" format="ascii">{v!r}</DataArray>\n'
        for k, v in field_data.items())
    text = path.read_text()
    tag = "<UnstructuredGrid>"
    if tag not in text:
        raise RuntimeError(f"meshio wrote no {tag} tag in {path}")  # a meshio change, not a user error
    path.write_text(text.replace(tag, f"{tag}\n<FieldData>\n{arrays}</FieldData>", 1))


def _make_xdmf_temporal(path: Path, time: float) -> None:
    """Wrap the single grid of a meshio XDMF file in a temporal collection with one step
    at `time` [s]: <Grid GridType="Collection" CollectionType="Temporal"><Grid
    GridType="Uniform"><Time Value="time"/> ...</Grid></Grid>."""
    tree = ET.parse(path)
    domain = tree.getroot().find("Domain")
    grid = domain.find("Grid")
    domain.remove(grid)
    grid.set("GridType", "Uniform")
    grid.insert(0, ET.Element("Time", Value=repr(float(time))))
    collection = ET.SubElement(domain, "Grid", Name="TimeSeries", GridType="Collection", CollectionType="Temporal")
    collection.append(grid)
    tree.write(path)
