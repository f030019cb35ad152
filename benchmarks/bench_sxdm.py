"""Benchmark: SXDM maps (simulate_frames + reduce_frames) of a 128^3 voxel particle.

A synthetic single crystal in the result.nc layout: a sphere 128 voxels across (25 nm
voxels, 3.2 um diameter, ~1.1 million solid voxels), c axis along z, a delithiated shell
(d_003 1.5 % smaller at the surface than in the core, quadratic in r) and a bending
lattice rotation omega = beta (-y z, x z, 0)/R^2 (up to ~0.5 deg). Scan: 30 nm beam,
50 nm steps, 2 deg rocking in 21 angles, 32 x 32 detector ROI. Target (issue 4): < 30 s.

    python benchmarks/bench_sxdm.py [--repeats 3] [--n 128]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr


def synthetic_particle(n: int = 128, voxel_nm: float = 25.0, d0: float = 4.70) -> xr.Dataset:
    """A spherical single crystal (c = z) with a radial d-spacing gradient and a bending
    lattice rotation, in the voxel result.nc layout (one snapshot)."""
    h = voxel_nm * 1e-9
    coord = (np.arange(n) - 0.5 * (n - 1)) * h
    radius = 0.5 * n * h
    z, y, x = np.meshgrid(coord, coord, coord, indexing="ij", sparse=True)
    r2 = (x**2 + y**2 + z**2) / radius**2
    solid = r2 <= 1.0
    d = np.where(solid, d0 * (1.0 - 0.015 * r2), np.nan).astype(np.float32)
    beta = np.radians(0.5)
    rotation = np.empty((3, n, n, n), dtype=np.float32)
    rotation[0] = np.where(solid, -beta * y * z / radius**2, np.nan)
    rotation[1] = np.where(solid, beta * x * z / radius**2, np.nan)
    rotation[2] = np.where(solid, 0.0, np.nan)
    return xr.Dataset(
        {
            "d_spacing_003": (("snapshot", "z", "y", "x"), d[None], {"units": "angstrom"}),
            "lattice_rotation": (("snapshot", "component", "z", "y", "x"), rotation[None], {"units": "rad"}),
            "grain_orientation": (("grain", "lab", "crystal"), np.eye(3)[None]),
        },
        coords={"z": coord, "y": coord, "x": coord, "component": ["x", "y", "z"], "lab": ["x", "y", "z"],
                "crystal": ["a", "b", "c"], "grain": (("z", "y", "x"), np.where(solid, 0, -1).astype(np.int32))},
        attrs={"voxel_nm": voxel_nm},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=128, help="voxels across (default 128)")
    args = parser.parse_args()

    from chemomech.observables.sxdm_scan import reduce_frames, simulate_frames, sxdm

    ds = synthetic_particle(args.n)
    solid = int((ds["grain"] >= 0).sum())
    small = synthetic_particle(16, voxel_nm=200.0)
    sxdm(small)  # compile (or load) the numba kernel outside the timing

    times, simulate_times, reduce_times = [], [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        frames, geometry = simulate_frames(ds, beam_nm=30.0, step_nm=50.0, rocking_deg=2.0)
        middle = time.perf_counter()
        maps = reduce_frames(frames, **geometry)
        end = time.perf_counter()
        simulate_times.append(middle - start)
        reduce_times.append(end - middle)
        times.append(end - start)
        del frames
    print(f"particle: {args.n}^3 grid, {solid} solid voxels, 25 nm voxels")
    print(f"frames: shape {tuple(maps.sizes[d] for d in ('y', 'x'))} raster x {len(geometry['angles_deg'])} angles "
          f"x 32 x 32 pixels = {4 * len(geometry['angles_deg']) * maps.sizes['y'] * maps.sizes['x'] * 1024 / 1e6:.0f} MB float32")
    print(f"simulate_frames median {np.median(simulate_times):.2f} s, reduce_frames median {np.median(reduce_times):.2f} s")
    print(f"sxdm (simulate + reduce) median of {args.repeats}: {np.median(times):.2f} s (target < 30 s); all: "
          + ", ".join(f"{t:.2f}" for t in times))
    print(f"d_rel range {np.nanmin(maps['d_rel']):.4f}..{np.nanmax(maps['d_rel']):.4f}, "
          f"tilt_y range {np.nanmin(maps['tilt_y']):.3f}..{np.nanmax(maps['tilt_y']):.3f} deg")


if __name__ == "__main__":
    main()
