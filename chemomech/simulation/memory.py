"""How much memory a run will take, estimated from its configuration before anything is
allocated, and the check that refuses a run the machine cannot hold.

A voxel grid that passes validation (up to 1024 voxels across) can need far more memory
than a workstation has: 1024 across is ~1.1e9 grid voxels, and its 20 snapshots of 9
float32 fields alone are ~780 GB. `simulate` calls `check_run_memory` before the particle
is built, so such a run ends at once with a ConfigError instead of swapping the machine to
a halt.

Calibration (README "Speed"): NC91 single-crystal sphere, 1C to 4.5 V, mechanics on 20
snapshots. Measured peak: 0.7 GiB at 64 across (137k voxels), 3.65 GiB at 128 across
(1.1M voxels). `estimate_run_memory` gives 0.76 GiB and 3.84 GiB for them (the test
tests/test_hardening_run.py holds it within 2x).
"""

from __future__ import annotations

import math
import os

from chemomech.errors import ConfigError

GIB = 1024.0 ** 3

BASELINE_BYTES = 0.30 * GIB
"""The interpreter with numpy, scipy, numba (compiled kernels) and xarray loaded [B]:
already resident when the check runs, so it is part of the peak but not of what the run
still has to allocate."""

TRANSPORT_BYTES_PER_SOLID_VOXEL = 480
"""Voxel transport work arrays per solid voxel [B]: connectivity (cells int64, grain int32,
6 neighbours int64) 60; stepper fields float64 (rate, rate slope, divergence, centre, 3
gradients, 4 x 6 face arrays) 248; Newton and BiCGSTAB vectors (x, x_old, rhs, Jacobian
column/row, 8 Krylov vectors) ~104; the 7-point stencil 56. Sum ~470, rounded up."""

GEOMETRY_BYTES_PER_GRID_VOXEL = 32
"""Building the particle [B per box voxel]: the grain grid (int32) and the float64
coordinate temporaries of the shape test."""

MECHANICS_BYTES_PER_GRID_VOXEL = 600
"""Elastic solve on one snapshot, per box voxel (the internal periodic grid) [B], float64:
eigenstrain input 3x3 (72) and its Voigt copy (48), displacement, force, residual, previous
residual, search direction, update, preconditioner input (7 x 3 x 8 = 168), the half-size
complex FFT of 3 components and its inverse (48), the preconditioner (6 float32 entries on
the half grid, 12), strain and stress 3x3 (144), rotation and the warm-start displacement
(48). Sum ~540, rounded up."""

COUPLING_BYTES_PER_SOLID_VOXEL = 330
"""Any [physics] option on, per solid voxel [B] (transport/voxel_coupling.VoxelCoupling):
the lagged crystal-frame stress, strain and eigenstrain (5 float64), the slab factors (7),
the lab-frame c axis (3), mu_extra, its slope, gradient and Laplacian (6), the drift's face
arrays (3 x 6) and the state of the last elastic solve (1): 40 float64 = 320, rounded up.
Measured with benchmarks/bench_coupling.py's crystal at 48 across (58k voxels): see
PHASE_BYTES_PER_SOLID_VOXEL."""

PHASE_BYTES_PER_SOLID_VOXEL = 420
"""physics.phase_separation, per solid voxel [B]: the 25-point Jacobian in fixed slots
(column int32 100, value float64 200, slots of the neighbours and second neighbours int8 42,
count and diagonal 12), the surface-rate and Laplacian vectors (3 float64, 24) and the
Laplacian work array of BiCGSTAB (8): ~390, rounded up. Measured at 48 across, 1C:
phase separation grew the peak by 740 B per solid voxel over the Fickian run, against
COUPLING + PHASE = 750 here. (With stress_assisted_diffusion or
slab_spacing_diffusivity the staggered elastic solve adds MECHANICS_BYTES_PER_GRID_VOXEL
per box voxel; measured, slab spacing: +1370 B per solid voxel, estimated 1630.)"""

SPHERE_BYTES_PER_CELL = 400
"""1-D sphere transport work arrays per radial cell [B] (a few dozen float64 vectors)."""

STATE_ROWS_PER_STEP = 30
"""Stored rows per protocol step beyond those its length needs: each step restarts from a
tiny time step (integrator.RESTART_FRACTION) and grows it, and limits are located by
extra steps."""

STATE_ROWS_FACTOR = 2.0
"""The adaptive step is below its ceiling (max_step_fraction of the nominal time) on
average: rows of a step ~ STATE_ROWS_PER_STEP + 2 x length / ceiling. The 64-across charge
above ran 96 steps; this gives 30 + 2 x 20 = 70."""

VOXEL_FIELDS_WITH_MECHANICS = 9   # x_li, 5 elastic fields, 3 lattice-rotation components
VOXEL_FIELDS_WITHOUT_MECHANICS = 1  # x_li
SPHERE_FIELDS = 10  # x_li, lattice a and c, 4 stresses and a few more over r (float64)


def _box_count(half_extent: float, voxel_size: float) -> int:
    """Voxels along one axis of a particle's box: 2 ceil(e/h) + 2 (geometry.voxel)."""
    return 2 * math.ceil(half_extent / voxel_size * (1.0 - 1e-9)) + 2


def voxel_counts(particle: dict) -> tuple[int, int]:
    """(box voxels, solid voxels) of a resolved [particle] table of a voxel geometry,
    without building the particle. Sphere and polycrystal: box (2 ceil(R/h) + 2)^3, solid
    (pi/6) (2R/h)^3. Platelet: the box of its rotated corners (as geometry.voxel), solid
    3 sqrt(3)/2 r^2 t / h^3 with thickness t = 2 r / aspect."""
    radius = particle["radius_um"] * 1e-6
    voxel = particle["voxel_nm"] * 1e-9
    if particle["geometry"] == "single-crystal" and particle.get("shape") == "platelet":
        import numpy as np

        from chemomech.geometry.voxel import platelet_vertices
        from chemomech.simulation.voxels import crystal_rotation

        aspect = particle["aspect"]
        half_extent = np.abs(platelet_vertices(radius, aspect) @ np.asarray(crystal_rotation(particle)).T).max(axis=0)
        box = math.prod(_box_count(float(e), voxel) for e in half_extent)
        solid = 1.5 * math.sqrt(3.0) * radius ** 2 * (2.0 * radius / aspect) / voxel ** 3
    else:
        box = _box_count(radius, voxel) ** 3
        solid = math.pi / 6.0 * (2.0 * radius / voxel) ** 3
    return int(box), int(min(solid, box))


def state_rows(spec) -> tuple[int, int]:
    """(stored state rows, snapshots) expected for a run.

    Rows of a step: STATE_ROWS_PER_STEP + STATE_ROWS_FACTOR x (its nominal length / the
    largest step), where the largest step is max_step_fraction x 3600 / (the C-rate of the
    last current step) [s] and the nominal length is the step's duration_s, or for a
    current step without one 3600 / its C-rate, for a hold without one 3600 / the
    reference rate. With output.snapshot_cycles only the rows of those cycles are kept, and
    the snapshots are, per chosen cycle, `snapshots` + the step ends + the start."""
    experiment = spec.experiment
    capacity = spec.material.capacity_nominal
    fraction = spec.solver.max_step_fraction
    kept = set(spec.snapshot_cycles)
    reference_rate = 1.0
    first = experiment.first_current_step()
    if first is not None:
        reference_rate = first.c_rate(capacity)
    rows = 1
    snapshots = 0
    for cycle, _, steps in experiment.cycles():
        stored = not kept or cycle in kept
        for step in steps:
            if step.mode == "current":
                reference_rate = step.c_rate(capacity)
                length = 3600.0 / reference_rate
                if step.duration_s is not None:
                    length = min(length, step.duration_s)
            else:
                length = step.duration_s if step.duration_s is not None else 3600.0 / reference_rate
            if stored:
                largest_step = fraction * 3600.0 / reference_rate
                rows += STATE_ROWS_PER_STEP + math.ceil(STATE_ROWS_FACTOR * length / largest_step)
        if kept and cycle in kept:
            snapshots += spec.snapshots + len(steps) + 1
    if not kept:
        snapshots = spec.snapshots
    return rows, snapshots


def estimate_run_memory(spec) -> dict:
    """Estimated peak memory of the run of a RunSpec [bytes], by term.

    voxel particles (box B voxels, solid S voxels, R stored rows, n snapshots):
      transport   S x TRANSPORT_BYTES_PER_SOLID_VOXEL + B x GEOMETRY_BYTES_PER_GRID_VOXEL
                  (+ S x COUPLING_BYTES_PER_SOLID_VOXEL with any [physics] option,
                   + S x PHASE_BYTES_PER_SOLID_VOXEL with phase_separation)
      states      S x 4 x R          (float32 copy of x per stored row, simulation.voxels)
      mechanics   B x MECHANICS_BYTES_PER_GRID_VOXEL, one elastic solve at a time (snapshot
                  mechanics or the stress coupling's staggered solves; 0 without either)
      snapshots   n x fields x 4 x B (float32 fields over the box; 9 with mechanics, else 1)
    sphere-1d (C cells): transport C x SPHERE_BYTES_PER_CELL, states C x 8 x R, snapshots
      n x SPHERE_FIELDS x 8 x C, mechanics 0.
    baseline    BASELINE_BYTES (already resident).

    Returns {"transport", "states", "mechanics", "snapshots", "baseline", "run" (all but the
    baseline: what the run still allocates), "peak" (all), "voxels" (solid; cells for
    sphere-1d), "box_voxels", "rows", "snapshot_count"}."""
    rows, snapshot_count = state_rows(spec)
    if spec.geometry == "sphere-1d":
        cells = int(spec.particle["cells"])
        box, solid = cells, cells
        transport = cells * SPHERE_BYTES_PER_CELL
        states = cells * 8 * rows
        mechanics = 0
        snapshots = snapshot_count * SPHERE_FIELDS * 8 * cells
    else:
        box, solid = voxel_counts(spec.particle)
        transport = solid * TRANSPORT_BYTES_PER_SOLID_VOXEL + box * GEOMETRY_BYTES_PER_GRID_VOXEL
        if not spec.physics.fickian:
            transport += solid * COUPLING_BYTES_PER_SOLID_VOXEL
        if spec.physics.phase_separation:
            transport += solid * PHASE_BYTES_PER_SOLID_VOXEL
        states = solid * 4 * rows
        elastic = spec.mechanics or spec.physics.needs_stress  # snapshots, or the staggered coupling
        mechanics = box * MECHANICS_BYTES_PER_GRID_VOXEL if elastic else 0
        fields = VOXEL_FIELDS_WITH_MECHANICS if spec.mechanics else VOXEL_FIELDS_WITHOUT_MECHANICS
        snapshots = snapshot_count * fields * 4 * box
    run = transport + states + mechanics + snapshots
    return {
        "transport": float(transport), "states": float(states), "mechanics": float(mechanics),
        "snapshots": float(snapshots), "baseline": BASELINE_BYTES, "run": float(run),
        "peak": float(run + BASELINE_BYTES), "voxels": solid, "box_voxels": box, "rows": rows,
        "snapshot_count": snapshot_count,
    }


def available_memory() -> float:
    """Memory a new allocation can get now [bytes]: MemAvailable of /proc/meminfo (Linux),
    else free physical pages x page size (os.sysconf); the smaller of that and the room left
    under a cgroup v2 memory limit (containers). inf when nothing can be read."""
    available = math.inf
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = float(line.split()[1]) * 1024.0  # kB
                    break
    except OSError:
        pass
    if available == math.inf:
        try:
            available = float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            pass
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as handle:
            limit = handle.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current", encoding="ascii") as handle:
                used = float(handle.read().strip())
            available = min(available, float(limit) - used)
    except (OSError, ValueError):
        pass
    return available


def describe_estimate(estimate: dict, geometry: str) -> str:
    """'3.8 GiB for this run (1.1M voxels, 20 snapshots)'-style text of an estimate."""
    unit = "cells" if geometry == "sphere-1d" else "voxels"
    count = estimate["voxels"]
    amount = f"{count / 1e6:.1f}M" if count >= 1e6 else f"{count / 1e3:.0f}k" if count >= 1e4 else str(count)
    return (f"{estimate['run'] / GIB:.1f} GiB for this run ({amount} {unit}, "
            f"{estimate['snapshot_count']} snapshots, ~{estimate['rows']} stored states)")


def check_run_memory(spec, allow_large: bool = False) -> dict:
    """Raise ConfigError when the estimated memory the run still allocates exceeds the
    available memory (unless allow_large); return the estimate."""
    estimate = estimate_run_memory(spec)
    available = available_memory()
    if not allow_large and estimate["run"] > available:
        advice = "use a larger particle.voxel_nm, or --allow-large" if spec.geometry != "sphere-1d" else \
            "use fewer particle.cells or output.snapshots, or --allow-large"
        raise ConfigError(f"estimated {describe_estimate(estimate, spec.geometry)} but only "
                          f"{available / GIB:.1f} GiB available; {advice}")
    return estimate
