"""The layout of a sweep directory's points, shared by running them (run_points) and
summarising them (summary): DIR/points/<name>/ is a run directory, complete when its
summary.json carries the point's configuration hash; DIR/points/<name>.error.json records
a point that failed."""

from __future__ import annotations

import json
from pathlib import Path

POINTS = "points"


def point_complete(point_dir: Path, config_hash: str) -> bool:
    """True when point_dir holds config.toml, result.nc and a summary.json whose
    config_sha256 equals `config_hash`."""
    try:
        summary = json.loads((point_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(summary, dict) and summary.get("config_sha256") == config_hash
            and (point_dir / "result.nc").is_file() and (point_dir / "config.toml").is_file())


def error_path(points_dir: Path, name: str) -> Path:
    return points_dir / f"{name}.error.json"
