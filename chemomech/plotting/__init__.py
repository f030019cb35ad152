"""Figures. Each plotting function takes results (Datasets, arrays) and a file path,
draws, saves with save_figure and returns the path; nothing is computed here."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def save_figure(fig, path: str | Path, dpi: int = 150) -> Path:
    """Save `fig` to `path` (format from the suffix: .png, .pdf, .svg), creating the folder,
    and close it. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
