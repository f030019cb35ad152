"""Figures. Each plotting function takes results (Datasets, arrays) and a file path,
draws, saves with save_figure and returns the path; nothing is computed here."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def save_figure(fig, path: str | Path, dpi: int = 150) -> Path:
    """Save `fig` to `path` (format from the suffix: .png, .pdf, .svg, ...), creating the
    folder, and close it. Returns the path. A suffix matplotlib cannot write is a
    ConfigError listing the formats it can."""
    from chemomech.errors import ConfigError

    path = Path(path)
    formats = sorted(fig.canvas.get_supported_filetypes())
    if path.suffix.lower().lstrip(".") not in formats:
        plt.close(fig)
        raise ConfigError(f"--out {str(path)!r}: unknown figure format {path.suffix or '(no suffix)'!r}; "
                          f"allowed suffixes: {', '.join('.' + f for f in formats)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
