"""The building blocks of the validation suite: a Case (a named computation with its
targets), the Row each target yields, and the runner.

Kinds of case (README "Validation"):
    calibration       the study's rows the material files were fitted to (../shared/physics-brief.md)
    analytical        closed-form solutions the solvers must reproduce (Crank, Eshelby, free sphere)
    self-consistency  the model measured the way the study measured it (GITT) gives back its input
    finding           the study's qualitative findings, reported as measured; never a failure,
                      and nothing is tuned to them

A row's status is "pass", "fail", "report" (findings: no pass/fail) or "skipped" (a check
that cannot run here, with the reason). The suite fails (exit status 1) when any row of a
calibration, analytical or self-consistency case fails.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

KINDS = ("calibration", "analytical", "self-consistency", "finding")
CHECKED_KINDS = ("calibration", "analytical", "self-consistency")  # may fail the suite


@dataclass
class Row:
    """One target against the model. target / tolerance are the text shown in the table;
    model is the number (None when skipped), model_text how it is printed."""

    quantity: str
    target: str
    source: str
    model: float | None
    tolerance: str
    status: str  # pass | fail | report | skipped
    model_text: str = ""

    def __post_init__(self):
        if not self.model_text:
            self.model_text = "-" if self.model is None else f"{self.model:.4g}"


@dataclass
class Outcome:
    """What a case's computation returns: its rows, figures (file name -> matplotlib
    Figure, saved by the report writer) and a short text for the report."""

    rows: list[Row]
    figures: dict = field(default_factory=dict)
    text: str = ""


@dataclass
class Case:
    """A validation case. compute() -> Outcome. seconds: the expected run time on one core
    (measured, for --list). quick: in the fast subset (--quick, the test suite). default:
    run when no --case is given (False for the full-size study cases)."""

    name: str
    kind: str
    description: str
    compute: Callable[[], Outcome]
    seconds: float
    quick: bool = False
    default: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"case {self.name}: kind {self.kind!r} is not one of {KINDS}")


@dataclass
class CaseResult:
    case: Case
    outcome: Outcome
    wall_s: float
    error: str = ""  # an unexpected exception (the case fails)

    @property
    def failed(self) -> bool:
        if self.case.kind not in CHECKED_KINDS:
            return False
        return bool(self.error) or any(r.status == "fail" for r in self.outcome.rows)

    @property
    def status(self) -> str:
        if self.error:
            return "error" if self.case.kind in CHECKED_KINDS else "report"
        statuses = {r.status for r in self.outcome.rows}
        if "fail" in statuses:
            return "fail"
        if statuses == {"skipped"}:
            return "skipped"
        if self.case.kind == "finding":
            return "report"
        return "pass"


# ---- rows ---------------------------------------------------------------------------------
def _decimals(tolerance: float) -> int:
    """Decimals that show a tolerance's first significant digit (0.02 -> 2, 0.6 -> 1)."""
    text = f"{tolerance:g}"
    return len(text.split(".")[1]) if "." in text else 0


def within(quantity, value, target, tolerance, source, unit="") -> Row:
    """Pass when |value - target| <= tolerance; target printed to the tolerance's
    decimals, the model to one more."""
    d = _decimals(tolerance)
    ok = abs(value - target) <= tolerance
    return Row(quantity, f"{target:.{d}f}{unit}", source, float(value), f"+- {tolerance:g}{unit}",
               "pass" if ok else "fail", f"{value:.{d + 1}f}{unit}")


def below(quantity, value, limit, source) -> Row:
    """An error that is 0 in the exact solution; pass when value <= limit."""
    return Row(quantity, "0 (exact)", source, float(value), f"<= {limit:.2g}",
               "pass" if value <= limit else "fail", f"{value:.2e}")


def between(quantity, value, low, high, source, target_text=None) -> Row:
    """Pass when low <= value <= high (either bound may be None)."""
    ok = (low is None or value >= low) and (high is None or value <= high)
    if target_text is None:
        target_text = f"> {low:g}" if high is None else (f"< {high:g}" if low is None else f"{low:g}-{high:g}")
    return Row(quantity, target_text, source, float(value), "bound", "pass" if ok else "fail", f"{value:.2f}")


def reported(quantity, value, expectation, source, text=None) -> Row:
    """A finding: the model's value next to what the study found; never a failure."""
    return Row(quantity, expectation, source, None if value is None else float(value), "(report)", "report",
               text or ("-" if value is None else f"{value:.3g}"))


def skipped(quantity, reason, source="") -> Row:
    return Row(quantity, "-", source, None, "-", "skipped", f"not available: {reason}")


def new_figure(figsize: tuple[float, float], **subplots):
    """(fig, ax) of a case's figure (plt.subplots(figsize=figsize, **subplots): ax an array
    with nrows/ncols), on the Agg backend (files only) that chemomech.plotting selects,
    whether the cases run from the CLI or from Python."""
    import matplotlib.pyplot as plt

    import chemomech.plotting  # noqa: F401 - selects the Agg backend

    return plt.subplots(figsize=figsize, **subplots)


# ---- running ------------------------------------------------------------------------------
def run_case(case: Case) -> CaseResult:
    """Run one case; an unexpected exception becomes an error result, not a crash of the
    suite (the traceback's last line is kept for the report)."""
    start = time.perf_counter()
    try:
        outcome = case.compute()
        error = ""
    except Exception as exc:  # noqa: BLE001 - a broken case is reported, the rest go on
        outcome = Outcome(rows=[], text="".join(traceback.format_exception_only(exc)).strip())
        error = outcome.text
    return CaseResult(case, outcome, time.perf_counter() - start, error)


def run_cases(cases: list[Case], progress: bool = False) -> list[CaseResult]:
    """Run the cases in order, with a tqdm bar over cases when progress is set."""
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(cases, desc="validate", unit="case")
        results = []
        for case in bar:
            bar.set_postfix_str(case.name)
            results.append(run_case(case))
        return results
    return [run_case(case) for case in cases]


def suite_failed(results: list[CaseResult]) -> bool:
    return any(r.failed for r in results)
