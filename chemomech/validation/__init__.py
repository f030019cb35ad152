"""Validation suite (`chemomech validate`, README "Validation"): the model against the
study's calibration rows, analytical solutions, its own GITT and the study's qualitative
findings. Python use:

    from chemomech.validation import CASES, select_cases, run_cases, format_table, write_report
    results = run_cases(select_cases(quick=True))
    print(format_table(results)); write_report(results, "validation/out", force=True)

A case of your own: Case(name, kind, description, compute, seconds), where compute()
returns Outcome(rows=[within(...), between(...), below(...), reported(...)], figures, text).
"""

from chemomech.validation.cases import CASES, select_cases
from chemomech.validation.core import (
    KINDS,
    Case,
    CaseResult,
    Outcome,
    Row,
    below,
    between,
    reported,
    run_case,
    run_cases,
    skipped,
    suite_failed,
    within,
)
from chemomech.validation.report import format_table, write_report

__all__ = [
    "CASES", "KINDS", "Case", "CaseResult", "Outcome", "Row", "below", "between", "format_table", "reported",
    "run_case", "run_cases", "select_cases", "skipped", "suite_failed", "within", "write_report",
]
