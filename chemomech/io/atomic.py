"""Writing outputs so that a failure or Ctrl-C never leaves a half-written file or folder:
everything is written under a temporary name beside the target and renamed into place at
the end (a rename within one folder is atomic on POSIX file systems)."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from chemomech.errors import ConfigError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_new_path(path: str | Path, force: bool, what: str = "--out") -> Path:
    """Refuse an existing output path unless force is set (checked before any work)."""
    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{what} {str(path)!r} already exists; choose another path or pass --force to replace it")
    return path


@contextmanager
def staged_directory(out: str | Path, force: bool = False):
    """Yield a hidden temporary folder beside `out`; on success it replaces `out` (an
    existing `out` only with force), on any error or interrupt it is removed."""
    out = check_new_path(out, force)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} exists and is not a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; results are shared
        yield staging
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            out.rename(retired / out.name)
            staging.rename(out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_file_atomic(target: str | Path, write) -> Path:
    """Call write(temporary path beside target), then rename the temporary to target."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
