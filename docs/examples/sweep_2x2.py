"""A 2 x 2 sweep: two materials x two C-rates, run on Dask with one worker.

A sweep names a base run configuration and the axes to vary; every point becomes an
ordinary run directory under DIR/points/ and DIR/summary.nc gathers their summary
figures on the grid (README, "Sweeps"). Here the base is the calibration sphere
(runs/sphere_1d.toml: R = 2 um, 100 cells, CC charge to 4.5 V) and the axes are the
material (NC91, NM91) and the C-rate (C/10, 1C):

    python docs/examples/sweep_2x2.py      # ~12 s (mostly starting the Dask worker)
    # the same from the command line, with a sweep file holding SWEEP below:
    #   chemomech sweep FILE.sweep.toml --out DIR --workers 1

    summary = run("runs/out/examples/sweep_2x2")   # xarray.Dataset over (material, c_rate)
    summary.soc_end.sel(material="nm91", c_rate=1.0)

These four points are exactly the SoC rows of the calibration table (README, "Materials
and calibration"; chemomech.validation.calibration.TARGETS): the study's SoC at 4.5 V,
0.91 / 0.78 (NC91, C/10 / 1C) and 0.85 / 0.66 (NM91), each +- 0.02.
tests/test_examples.py checks every point against them, and that a point run through the
sweep equals the same configuration run directly by cm.simulate (to 1e-12): the sweep
machinery adds nothing to the physics.
"""

from __future__ import annotations

from pathlib import Path

import chemomech as cm
from chemomech.plotting import save_figure

ROOT = Path(__file__).resolve().parents[2]
SWEEP = {
    "base": str(ROOT / "runs" / "sphere_1d.toml"),
    "axes": {"material": ["nc91", "nm91"], "protocol.c_rate": [0.1, 1.0]},
}


def run(out=ROOT / "runs" / "out" / "examples" / "sweep_2x2", workers: int = 1):
    """Run the sweep into directory `out` (a rerun skips the finished points) on a local
    Dask cluster of `workers` processes. Returns the summary Dataset (DIR/summary.nc):
    soc_end, capacity_mAh_g, ... over (material, c_rate), with status per point."""
    from chemomech.sweep import run_sweep

    return run_sweep(SWEEP, out, workers=workers, progress=False)


def visualize(result, path) -> Path:
    """Capacity at 4.5 V vs C-rate, one line per material, with the study's SoC targets
    (x 270 mAh/g) as error bars. Written to `path` (PNG)."""
    from matplotlib.figure import Figure

    from chemomech.validation.calibration import TARGETS, TOLERANCE

    figure = Figure(figsize=(5, 3.6))
    axes = figure.subplots()
    nominal = 270.0  # mAh/g per unit SoC (the study's basis)
    for material in result.material.values:
        line, = axes.plot(result.c_rate, result.capacity_mAh_g.sel(material=material), "o-", label=material.upper())
        targets = [TARGETS[material]["soc_c10"], TARGETS[material]["soc_1c"]]
        tolerance = [TOLERANCE["soc_c10"], TOLERANCE["soc_1c"]]
        axes.errorbar([0.1, 1.0], [nominal * t for t in targets], yerr=[nominal * t for t in tolerance],
                      fmt="none", color=line.get_color(), capsize=4, alpha=0.6)
    axes.set(xscale="log", xlabel="C-rate [1/h]", ylabel="capacity at 4.5 V [mAh/g]",
             title="2 um sphere; bars: the study's SoC +- 0.02")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return save_figure(figure, path, dpi=120)


def direct_run(material: str, c_rate: float):
    """The same point run without the sweep: cm.simulate of the base config."""
    import tomllib

    config = tomllib.loads(Path(SWEEP["base"]).read_text())
    config["material"] = material
    config["protocol"]["c_rate"] = c_rate
    return cm.simulate(config)


if __name__ == "__main__":  # needed: the Dask worker processes re-import this module
    summary = run()
    print(summary.soc_end.to_pandas().round(3))
    print("wrote", visualize(summary, ROOT / "runs" / "out" / "examples" / "sweep_2x2.png"))
