"""Small simulated runs shared by the measurement tests (built once per test session)."""

from __future__ import annotations

import pytest

PROTOCOL_1C = {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5}
SMALL_VOXEL_CONFIG = {  # 20 voxels across, a few seconds
    "material": "nc91",
    "particle": {"geometry": "single-crystal", "shape": "sphere", "radius_um": 0.5, "voxel_nm": 50.0,
                 "c_axis": [0, 0, 1]},
    "protocol": PROTOCOL_1C,
    "output": {"snapshots": 4, "mechanics": True},
}
SMALL_SPHERE_CONFIG = {
    "material": "nc91",
    "particle": {"geometry": "sphere-1d", "radius_um": 1.0, "cells": 40},
    "protocol": PROTOCOL_1C,
    "output": {"snapshots": 4},
}


@pytest.fixture(scope="session")
def small_voxel_result():
    """NC91 single crystal, R = 0.5 um at 50 nm voxels, 1C to 4.5 V, mechanics on 4 snapshots."""
    import chemomech as cm

    return cm.simulate(SMALL_VOXEL_CONFIG)


@pytest.fixture(scope="session")
def small_sphere_result():
    """NC91 1-D sphere, R = 1 um, 40 cells, 1C to 4.5 V, 4 snapshots."""
    import chemomech as cm

    return cm.simulate(SMALL_SPHERE_CONFIG)


@pytest.fixture(scope="session")
def small_runs(tmp_path_factory, small_voxel_result, small_sphere_result):
    """The two small results written as run directories: {"voxel": path, "sphere": path}."""
    from chemomech.io.rundir import write_run_directory
    from chemomech.simulation.run import summary_of

    base = tmp_path_factory.mktemp("runs")
    return {
        "voxel": write_run_directory(base / "voxel", SMALL_VOXEL_CONFIG, small_voxel_result,
                                     summary_of(small_voxel_result)),
        "sphere": write_run_directory(base / "sphere", SMALL_SPHERE_CONFIG, small_sphere_result,
                                      summary_of(small_sphere_result)),
    }


def default_sigint():
    """preexec_fn of the Ctrl-C tests' subprocesses: SIGINT back to its default, so that the
    child's Python turns it into KeyboardInterrupt even when the test run was started with
    SIGINT ignored (a shell starts background jobs so, and some CI runners do)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
