"""Parameter sweeps: many independent runs over a grid of configuration values.

    from chemomech.sweep import run_sweep
    ds = run_sweep("runs/rate_capability.sweep.toml", "runs/out/rate_capability")
    ds.capacity_mAh_g.sel(material="nm91")        # one value per C-rate

- sweep_file.py: the sweep file (base config + axes, lists or ranges) -> the grid of
  resolved run configurations (load_sweep);
- run_points.py: running the pending points on dask.distributed into DIR/points/<name>/
  (ordinary run directories), resumably (run_sweep);
- summary.py: DIR/summary.nc, the summary.json figures of every point on the grid.
"""

from chemomech.sweep.run_points import count_complete, run_point, run_sweep
from chemomech.sweep.summary import open_summary, sweep_summary
from chemomech.sweep.sweep_file import Axis, Sweep, SweepPoint, config_hash, load_sweep

__all__ = ["Axis", "Sweep", "SweepPoint", "config_hash", "count_complete", "load_sweep",
           "open_summary", "run_point", "run_sweep", "sweep_summary"]
