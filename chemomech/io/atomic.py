"""Writing outputs so that a failure or Ctrl-C never leaves a half-written file or folder:
everything is written under a temporary name beside the target and renamed into place at
the end (a rename within one folder is atomic on POSIX file systems).

A staged folder for target DIR is named `.DIR.<pid>.<random>.tmp` (an existing DIR being
replaced is moved aside to `.DIR.<pid>.<random>.old` for the moment of the swap), beside
DIR. A process killed outright (SIGKILL, power loss) cannot remove its staging folder; the
next write of the same target removes those whose process no longer runs
(`remove_stale_staging`). Staging folders of live processes, and of other targets, are
left alone.
"""

from __future__ import annotations

import os
import re
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
    """Refuse an existing output path unless force is set, and a path that cannot be
    written (checked before any work)."""
    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{what} {str(path)!r} already exists; choose another path or pass --force to replace it")
    check_writable(path, what)
    return path


def check_writable(path: str | Path, what: str = "--out") -> None:
    """Raise ConfigError unless a file or folder can be created beside `path`: in its
    parent, or, where the parent does not exist yet, in its nearest existing ancestor
    (a probe folder is made there and removed at once)."""
    given = str(path)
    path = Path(os.path.abspath(path))
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"{what} {given!r}: {str(ancestor)!r} is not a directory; choose a path in a writable directory")
    try:
        probe = tempfile.mkdtemp(prefix=".chemomech-probe.", dir=ancestor)
        os.rmdir(probe)
    except OSError as exc:
        raise ConfigError(f"{what} {given!r}: cannot write in {str(ancestor)!r} ({exc.strerror or exc}); "
                          "choose a path in a writable directory") from None


def _process_running(pid: int) -> bool:
    """True when process `pid` exists on this machine (or cannot be checked)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def remove_stale_staging(out: str | Path) -> list[Path]:
    """Remove the staging (.tmp) and set-aside (.old) folders of target `out` left by
    processes that no longer run: names `.{out.name}.<pid>.<8 random>.tmp|old` in out's
    parent whose pid is not a running process. A set-aside .old is removed only while
    `out` exists (the swap finished); without `out` it may hold the only copy of the
    earlier run and is kept. Returns the removed paths."""
    out = Path(os.path.abspath(out))
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(\d+)\.[a-z0-9_]{{8}}\.(tmp|old)")
    removed = []
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match or not entry.is_dir() or entry.is_symlink() or _process_running(int(match.group(1))):
            continue
        if match.group(2) == "tmp" or out.exists():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextmanager
def staged_directory(out: str | Path, force: bool = False):
    """Yield a hidden temporary folder beside `out`; on success it replaces `out` (an
    existing `out` only with force), on any error or interrupt it is removed."""
    out = check_new_path(out, force)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} exists and is not a directory")
    out = Path(os.path.abspath(out))  # "." and "..": the real name and parent
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)
    prefix = f".{out.name}.{os.getpid()}."
    staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=out.parent))
    try:
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; results are shared
        yield staging
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=prefix, suffix=".old", dir=out.parent))
            out.rename(retired / out.name)
            try:
                staging.rename(out)
            except BaseException:
                (retired / out.name).rename(out)  # put the old one back
                shutil.rmtree(retired, ignore_errors=True)
                raise
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
