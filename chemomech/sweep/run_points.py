"""Running the points of a sweep on dask.distributed, resumably.

Each point is one task: chemomech.simulation.run.simulate of its resolved configuration, written with
chemomech.io.rundir.write_run_directory to DIR/points/<name>/ (config.toml, result.nc,
summary.json; staged in a hidden folder and renamed into place, so a point directory is
either complete or absent). summary.json also holds `config_sha256`, the hash of the
resolved configuration and material file (sweep_file.config_hash): a point is complete when
its directory holds config.toml, result.nc and a summary.json with the hash of the point's
current configuration. Rerunning a sweep skips complete points and recomputes the others
(new, stale, failed, interrupted).

A point that raises (a ChemomechError such as a v_max the run cannot start under, a
SolverError, or any other exception in the worker, or a lost worker) is recorded in
DIR/points/<name>.error.json with its error text and configuration hash; the other points go
on.

Execution (the dask.distributed documentation, "Futures" and "LocalCluster"):
  - no scheduler: a LocalCluster on this machine, one single-threaded worker process per
    core (threads_per_worker=1, processes=True: the solvers' Python parts hold the GIL),
    dashboard off, logging silenced;
  - scheduler="tcp://host:port": a Client to that running cluster; DIR must then be on a
    file system every worker sees (the workers write the point directories);
  - client=...: an existing distributed.Client (used as is, not closed).
One future per pending point, collected with distributed.as_completed under a tqdm bar.
On Ctrl-C the pending futures are cancelled, the client (and local cluster) closed, and
hidden staging folders of killed local workers removed; finished points stay, and the
next run resumes. One sweep at a time may write a given DIR.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path

import xarray as xr

from chemomech.errors import ConfigError
from chemomech.io.atomic import write_file_atomic
from chemomech.io.rundir import write_run_directory
from chemomech.simulation.run import simulate, summary_of
from chemomech.sweep.points_dir import POINTS, error_path, point_complete
from chemomech.sweep.summary import sweep_summary, write_summary
from chemomech.sweep.sweep_file import Sweep, SweepPoint, load_sweep

# The scheduler's small HTTP server (health and metrics routes; the dashboard itself is off)
# would take port 8787 and warn when that port is busy: a free local port instead.
LOCAL_SCHEDULER_HTTP = {"dashboard_address": "127.0.0.1:0"}


def run_point(point_dir: str, config: dict, config_hash: str) -> dict:
    """The task run on a worker: simulate one point and write its run directory (replacing
    a stale one). Returns a small dict {name, ok, summary | error, wall_s}; never raises for
    a failing run (the error text is returned instead)."""

    started = time.perf_counter()
    name = Path(point_dir).name
    try:
        ds = simulate(config)
        summary = {**summary_of(ds), "config_sha256": config_hash}
        write_run_directory(point_dir, config, ds, summary, force=True)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, the sweep goes on
        return {"name": name, "ok": False, "error": _error_text(exc), "wall_s": time.perf_counter() - started}
    return {"name": name, "ok": True, "summary": summary, "wall_s": time.perf_counter() - started}


def _error_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_sweep_directory(out: str | Path) -> Path:
    """DIR may be new, empty, or a sweep directory (holds sweep.toml or points/); anything
    else is refused so that a sweep never writes into a run directory or another folder."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"--out {str(out)!r} exists and is not a directory")
        is_sweep = (out / "sweep.toml").is_file() or (out / POINTS).is_dir()
        if not is_sweep and any(out.iterdir()):
            raise ConfigError(f"--out {str(out)!r} exists and is not a sweep directory (no sweep.toml or points/ inside); choose another")
    return out


def remove_staging_leftovers(points_dir: Path, names) -> list[Path]:
    """Remove hidden staging folders/files ('.<name>.*') of this sweep's points left by a
    killed worker (io/atomic.py names them so). Returns what was removed."""
    removed = []
    if not points_dir.is_dir():
        return removed
    prefixes = tuple(f".{name}." for name in names)
    for entry in points_dir.iterdir():
        if entry.name.startswith(prefixes):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def check_execution(workers: int | None = None, scheduler: str | None = None, client=None) -> None:
    """ConfigError unless workers is None or a whole number >= 1, and at most one of
    workers, scheduler and client is given (checked before any work)."""
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"--workers {workers!r}: must be a whole number >= 1")
    if sum(x is not None for x in (workers, scheduler, client)) > 1:
        raise ConfigError("give one of --workers (a local cluster) or --scheduler (a running cluster)")


def count_complete(sweep: Sweep, out: str | Path) -> int:
    """How many of the sweep's points are complete in DIR/points."""
    points_dir = Path(out) / POINTS
    return sum(point_complete(points_dir / p.name, p.config_hash) for p in sweep.points)


def run_sweep(sweep: str | Path | dict | Sweep, out: str | Path, workers: int | None = None,
              scheduler: str | None = None, progress: bool = True, client=None) -> xr.Dataset:
    """Run every pending point of `sweep` (a sweep file path, dict or loaded Sweep) into
    `out`/points and write `out`/sweep.toml and `out`/summary.nc. Returns the summary
    Dataset (chemomech.sweep.summary.sweep_summary); its attrs count the points
    (points_total, points_run, points_skipped, points_failed) and hold the wall time
    (wall_s). Failed points do not raise: see ds.status and DIR/points/<name>.error.json.

    workers: local worker processes (default: the core count, at most the pending points);
    scheduler: address of a running Dask scheduler instead of a local cluster;
    client: an existing distributed.Client instead of either.
    """

    started = time.perf_counter()
    check_execution(workers, scheduler, client)
    spec = sweep if isinstance(sweep, Sweep) else load_sweep(sweep)
    out = check_sweep_directory(out)
    points_dir = out / POINTS
    pending = [p for p in spec.points if not point_complete(points_dir / p.name, p.config_hash)]
    local = client is None and scheduler is None
    outcomes = []
    try:
        # the cluster first: a wrong --scheduler address writes nothing
        cluster = _dask_client(workers, scheduler, client, len(pending)) if pending else contextlib.nullcontext()
        with cluster as dask_client:
            points_dir.mkdir(parents=True, exist_ok=True)
            write_file_atomic(out / "sweep.toml", lambda path: path.write_text(spec.resolved_toml()))
            remove_staging_leftovers(points_dir, [p.name for p in spec.points])
            if pending:
                _execute(dask_client, pending, points_dir, progress, outcomes)
    except BaseException:
        if local:  # the local workers are gone now; a killed one may have left a staging folder
            remove_staging_leftovers(points_dir, [p.name for p in pending])
        raise
    finally:  # what finished before an interrupt is recorded too
        for outcome in outcomes:
            _record(points_dir, outcome)

    ds = sweep_summary(spec, points_dir)
    ds.attrs.update({
        "points_total": len(spec.points),
        "points_run": len(pending),
        "points_skipped": len(spec.points) - len(pending),
        "points_failed": int((ds["status"] == "failed").sum()),
        "wall_s": time.perf_counter() - started,
    })
    write_summary(ds, out / "summary.nc")
    return ds


def _record(points_dir: Path, outcome: dict) -> None:
    """Write DIR/points/<name>.error.json for a failed point; remove an old one when the
    point now succeeded."""

    target = error_path(points_dir, outcome["name"])
    if outcome["ok"]:
        target.unlink(missing_ok=True)
        return
    record = {key: outcome[key] for key in ("name", "error", "config_sha256", "values") if key in outcome}
    record["wall_s"] = outcome["wall_s"]
    write_file_atomic(target, lambda path: path.write_text(json.dumps(record, indent=2, default=str) + "\n"))


def _execute(dask_client, pending: list[SweepPoint], points_dir: Path, progress: bool, outcomes: list) -> None:
    """Submit one task per pending point and append the outcomes to `outcomes` as they
    finish; on an interrupt (or any error here) cancel what is left and re-raise."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    futures = {}
    for point in pending:
        future = dask_client.submit(run_point, str((points_dir / point.name).resolve()), point.config,
                                    point.config_hash, key=f"chemomech-point-{point.name}-{point.config_hash[:12]}",
                                    pure=False)
        futures[future] = point
    bar = tqdm(total=len(pending), unit="point", desc="sweep", leave=False, disable=not progress)
    try:
        for future in as_completed(futures):
            point = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker or a task that could not run
                outcome = {"name": point.name, "ok": False, "error": _error_text(exc), "wall_s": math.nan}
            outcome["config_sha256"] = point.config_hash
            outcome["values"] = point.values
            outcomes.append(outcome)
            bar.update(1)
    except BaseException:
        with contextlib.suppress(Exception):
            dask_client.cancel(list(futures), force=True)
        raise
    finally:
        bar.close()


@contextlib.contextmanager
def _dask_client(workers, scheduler, client, pending: int):
    """A distributed.Client: the given one, one connected to `scheduler`, or one on a new
    LocalCluster (closed, with its cluster, on exit)."""
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    with _quiet_dask():
        if scheduler is not None:
            try:
                dask_client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ConfigError(f"--scheduler {scheduler!r}: cannot connect ({_error_text(exc)}); "
                                  "give the address of a running scheduler, e.g. tcp://127.0.0.1:8786") from None
            cluster = None
        else:
            n = min(workers or os.cpu_count() or 1, pending)
            with _workers_ignore_ctrl_c():
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=logging.ERROR,
                                       scheduler_kwargs=LOCAL_SCHEDULER_HTTP)
            try:
                dask_client = Client(cluster)
            except BaseException:
                cluster.close()
                raise
        try:
            yield dask_client
        finally:
            with contextlib.suppress(Exception):
                dask_client.close()
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()


@contextlib.contextmanager
def _workers_ignore_ctrl_c():
    """Ignore SIGINT while the local worker processes are spawned: they inherit the ignored
    disposition (POSIX keeps SIG_IGN across fork and exec, and Python then installs no
    KeyboardInterrupt handler), so Ctrl-C in a terminal, which signals the whole foreground
    process group, reaches only this process, which cancels the sweep and closes the
    cluster; the workers do not print tracebacks of their own. A Ctrl-C during the
    cluster's start-up is lost (press it again once the progress bar shows)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _quiet_dask():
    """Silence distributed's INFO/WARNING chatter (start-up, shutdown) in this process."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
