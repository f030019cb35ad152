"""The compiled (numba) kernels on first use: where their cache lives, and saying so
when they compile.

The kernels are `@njit(cache=True)`: the first run after installation compiles them
(a few seconds) and writes the machine code next to the sources (`__pycache__`), later
runs load it (milliseconds). Three things keep that first run short and explained:

- `configure_cache_dir()` (called by `import chemomech`, before numba is imported) points
  numba at a user cache directory, $XDG_CACHE_HOME/chemomech/numba (default
  ~/.cache/chemomech/numba), when the package directory is not writable (a system-wide
  install) and NUMBA_CACHE_DIR is not set; otherwise every run would compile again.
- `CompileNotice` listens to numba's compile events (numba.core.event "numba:compile",
  fired only on a cache miss, not on a cache load) and prints
  "compiling kernels (first run only) ..." once per process on stderr.
- The 1-D sphere kernels (transport/sphere_kernels.py, integrator.local_error) carry
  explicit signatures: one specialisation each, compiled (or loaded) when the module is
  imported, before a run's progress bar starts, so the bar's ETA is not spoilt by
  compilation. The coupled 1-D kernels (transport/sphere_coupled_kernels.py, used only
  with [physics] options on) and the voxel, mechanics and observables kernels compile on
  first call (a Fickian 1-D run never touches them); a notice enabled by the CLI is then
  printed above the bar.

`import chemomech` itself imports no numba and compiles nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

COMPILE_MESSAGE = "compiling kernels (first run only) ..."

PACKAGE_DIR = Path(__file__).resolve().parent
KERNEL_DIRS = ("transport", "mechanics", "observables")  # folders holding @njit(cache=True) modules


def user_cache_dir(environ=os.environ) -> Path:
    """$XDG_CACHE_HOME/chemomech/numba, by default ~/.cache/chemomech/numba."""
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "chemomech" / "numba"


def _writable(directory: Path) -> bool:
    """Whether numba can write its cache for the modules in `directory` (its __pycache__,
    or the directory itself where __pycache__ does not exist yet)."""
    cache = directory / "__pycache__"
    target = cache if cache.is_dir() else directory
    return os.access(target, os.W_OK | os.X_OK)


def configure_cache_dir(package_dir: Path = PACKAGE_DIR, environ=os.environ) -> str | None:
    """Set NUMBA_CACHE_DIR to the user cache directory when the kernel folders of
    `package_dir` are not writable and NUMBA_CACHE_DIR is unset. Returns the directory set,
    or None when nothing was changed. Takes effect for numba imported afterwards (and for
    an already imported numba through numba.config.CACHE_DIR)."""
    if environ.get("NUMBA_CACHE_DIR"):
        return None
    if all(_writable(package_dir / name) for name in KERNEL_DIRS if (package_dir / name).is_dir()):
        return None
    directory = user_cache_dir(environ)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # numba then falls back on its own user-wide cache, or compiles each run
    environ["NUMBA_CACHE_DIR"] = str(directory)
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.config.CACHE_DIR = str(directory)
    return str(directory)


class CompileNotice:
    """Writes COMPILE_MESSAGE once on `stream` (default stderr, read when the message is
    written) at the start of the first compilation, above a running tqdm bar when one is
    shown; `shown` tells whether it was written. Registered with numba by
    `enable_compile_notice` (as a numba.core.event.Listener of "numba:compile")."""

    def __init__(self, stream=None, message: str = COMPILE_MESSAGE):
        self.stream = stream
        self.message = message
        self.shown = False

    def on_start(self, event=None):
        if self.shown:
            return
        self.shown = True
        stream = self.stream if self.stream is not None else sys.stderr
        if "tqdm" in sys.modules:  # a bar may be running: print above it, not through it
            from tqdm import tqdm

            tqdm.write(self.message, file=stream)
        else:
            print(self.message, file=stream, flush=True)

    def on_end(self, event=None):
        pass


_PROCESS_NOTICE: CompileNotice | None = None


def compile_listener(stream=None) -> CompileNotice:
    """A CompileNotice that numba accepts as a listener (numba imported here, not before)."""
    from numba.core import event

    listener_class = type("CompileNoticeListener", (CompileNotice, event.Listener), {})
    return listener_class(stream)


def enable_compile_notice(stream=None) -> CompileNotice:
    """Register one process-wide CompileNotice for "numba:compile" (idempotent), return it."""
    global _PROCESS_NOTICE
    if _PROCESS_NOTICE is None:
        from numba.core import event

        _PROCESS_NOTICE = compile_listener(stream)
        event.register("numba:compile", _PROCESS_NOTICE)
    return _PROCESS_NOTICE
