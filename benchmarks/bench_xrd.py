"""Time the synthetic powder XRD of 1e6 voxels x 50 snapshots (issue 4 target: < 10 s).

The Dataset is synthetic but has the layout of a voxel run and realistic fields: a sphere
of 124 voxels across (~1.0e6 solid voxels) with a core-shell Li profile that charges from
x = 1 to x ~ 0.2 over 50 snapshots (surface ahead of the core, as at 1C), elastic strains
of +-0.3 %. Prints the median wall time of `cm.observables.xrd` over repeats (the first,
numba-compiling call is excluded).

    python benchmarks/bench_xrd.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr

from chemomech.materials.material import load_material
from chemomech.observables.powder_xrd import xrd


def synthetic_voxel_run(across: int = 124, snapshots: int = 50) -> xr.Dataset:
    """A voxel-run-like Dataset: x_li, elastic_strain_a/c over (snapshot, z, y, x), NaN
    outside a sphere; x = 1 - s (0.6 + 0.4 (r/R)^2) at charge fraction s in [0, 1]."""
    coords = (np.arange(across) - (across - 1) / 2) / (across / 2)
    z, y, x = np.meshgrid(coords, coords, coords, indexing="ij")
    r2 = (x * x + y * y + z * z).astype(np.float32)
    solid = r2 <= 1.0
    s = np.linspace(0.0, 1.0, snapshots, dtype=np.float32)[:, None, None, None]
    x_li = 1.0 - s * (0.6 + 0.4 * r2[None]) * 0.8
    x_li = np.where(solid[None], x_li, np.nan).astype(np.float32)
    strain = np.where(solid[None], 0.003 * s * (r2[None] - 0.5), np.nan).astype(np.float32)
    dims = ("snapshot", "z", "y", "x")
    axis = coords * 1e-6
    return xr.Dataset(
        {"x_li": (dims, x_li), "elastic_strain_a": (dims, strain), "elastic_strain_c": (dims, -strain)},
        coords={"snapshot": np.arange(snapshots), "z": axis, "y": axis, "x": axis,
                "snapshot_time": ("snapshot", np.linspace(0, 3000, snapshots))},
    ), int(solid.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--across", type=int, default=124)
    args = parser.parse_args()
    material = load_material("nc91")
    ds, n_solid = synthetic_voxel_run(args.across)
    xrd(ds.isel(snapshot=slice(0, 2)), material=material)  # compile the kernel
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        pattern = xrd(ds, material=material)
        times.append(time.perf_counter() - start)
    print(f"xrd: {n_solid} voxels x {ds.sizes['snapshot']} snapshots, {pattern.sizes['two_theta']} angles, "
          f"9 reflections: median {np.median(times):.2f} s over {args.repeats} repeats "
          f"(min {min(times):.2f} s, max {max(times):.2f} s)")


if __name__ == "__main__":
    main()
