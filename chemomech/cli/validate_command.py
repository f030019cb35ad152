"""`chemomech validate [--case NAME ...] [--quick] [--list] [--out DIR] [--force] [--quiet]`:
hold the model against the study's calibration rows, analytical solutions, its own GITT
and the study's qualitative findings (chemomech/validation/, README "Validation").

Prints a table at most 100 columns wide (per case: quantity, target, model, tolerance,
result and a source number; the sources listed below it) and writes
DIR (default validation/out): report.md, report.json and PNG figures, replaced atomically.
An existing DIR is replaced when it holds an earlier report (report.md) or with --force.
Exit status 1 when a calibration, analytical or self-consistency target fails (findings
are reported, never a failure); 2 for a user mistake (e.g. an unknown --case).
"""

from __future__ import annotations

DEFAULT_OUT = "validation/out"
TABLE_WIDTH = 100  # terminal columns of the printed table and --list


def add_parser(sub) -> None:
    """Register the `validate` subcommand on the argparse subparsers `sub`."""
    parser = sub.add_parser("validate", help="validation suite: calibration, analytical, GITT and study findings")
    parser.add_argument("--case", action="extend", nargs="+", default=[], metavar="NAME",
                        help="run only these cases (repeatable; see --list)")
    parser.add_argument("--quick", action="store_true", help="only the fast subset (a few seconds)")
    parser.add_argument("--list", action="store_true", help="list the cases with their expected run time and exit")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"report directory (default {DEFAULT_OUT})")
    parser.add_argument("--force", action="store_true", help="replace an existing --out that is not a validation report")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_validate)


def _validate(args) -> int:
    from pathlib import Path

    from chemomech.io.atomic import check_new_path
    from chemomech.validation import CASES, format_table, run_cases, select_cases, suite_failed, write_report

    cases = select_cases(args.case, args.quick)
    if args.list:
        print(_case_list(CASES.values()))
        return 0
    out = Path(args.out)
    force = args.force or (out / "report.md").is_file()  # a previous report is replaced
    check_new_path(out, force)  # before any work
    if not args.quiet:
        from chemomech.kernels_warmup import enable_compile_notice

        enable_compile_notice()
    results = run_cases(cases, progress=not args.quiet)
    print(format_table(results))
    write_report(results, out, force=force)
    print(f"wrote {out / 'report.md'}")
    return 1 if suite_failed(results) else 0


def _case_list(cases, width: int = TABLE_WIDTH) -> str:
    """--list: name, kind, expected time and set on one line, the description wrapped
    below it, indented (at most `width` columns)."""
    import textwrap

    lines = [f"{'case':<30} {'kind':<17} {'~time':>7}  set"]
    for case in cases:
        subset = "quick" if case.quick else ("default" if case.default else "--case only")
        lines.append(f"{case.name:<30} {case.kind:<17} {_duration(case.seconds):>7}  {subset}")
        lines += textwrap.wrap(case.description, width, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
