"""The validation table (terminal) and report (DIR/report.md, DIR/report.json and the
cases' PNG figures), written atomically (chemomech.io.atomic.staged_directory)."""

from __future__ import annotations

import json
from pathlib import Path

from chemomech.validation.core import CaseResult, suite_failed

HEADER = ("case", "quantity", "target", "model", "tolerance", "result", "source")


def table_rows(results: list[CaseResult]) -> list[tuple]:
    rows = []
    for res in results:
        if res.error:
            rows.append((res.case.name, "(case raised an error)", "-", res.error, "-",
                         "error" if res.failed else "report", "-"))
        for r in res.outcome.rows:
            rows.append((res.case.name, r.quantity, r.target, r.model_text, r.tolerance, r.status, r.source))
    return rows


TABLE_WIDTH = 100  # terminal columns of format_table
CELL_WIDTH = 14  # target, model and tolerance cells longer than this are cut ("..")


def _cell(value, width: int = CELL_WIDTH) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 2] + ".."


def format_table(results: list[CaseResult], width: int = TABLE_WIDTH) -> str:
    """A plain-text table at most `width` columns wide: a line per case, then one line
    per target (quantity wrapped), target, model, tolerance, result and a source number
    [k]; the sources follow the table (wrapped), then a closing summary line. report.md
    holds the same rows with every field in full."""
    import textwrap

    header = ("target", "model", "tolerance", "result", "src")
    sources: dict[str, int] = {}
    body = []  # (case name, quantity, cells) or (case name, None, error text)
    for res in results:
        if res.error:
            body.append((res.case.name, None, f"{'error' if res.failed else 'report'}: {res.error}"))
        for r in res.outcome.rows:
            ref = ""
            if r.source:
                ref = f"[{sources.setdefault(r.source, len(sources) + 1)}]"
            body.append((res.case.name, r.quantity,
                         (_cell(r.target), _cell(r.model_text), _cell(r.tolerance), r.status, ref)))
    cells = [header] + [row[2] for row in body if row[1] is not None]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    numbers_width = sum(widths) + 2 * len(widths)
    quantity_width = max(width - 2 - numbers_width, 20)

    def line(first: str, row) -> str:
        return (first.ljust(quantity_width + 2) + "  "
                + "  ".join(v.ljust(w) for v, w in zip(row, widths))).rstrip()

    lines = [line("case / quantity", header), "-" * min(width, quantity_width + 2 + numbers_width)]
    case = None
    for name, quantity, rest in body:
        if name != case:
            case = name
            lines.append(name)
        if quantity is None:  # the case raised: its error, wrapped
            lines += textwrap.wrap(rest, width, initial_indent="  ", subsequent_indent="    ")
            continue
        wrapped = textwrap.wrap(quantity, quantity_width, subsequent_indent="  ") or [""]
        lines.append(line("  " + wrapped[0], rest))
        lines += ["  " + more for more in wrapped[1:]]
    if sources:
        lines.append("sources:")
        for text, k in sources.items():
            lines += textwrap.wrap(f"[{k}] {text}", width, initial_indent="  ", subsequent_indent="      ")
    lines.append(summary_line(results))
    return "\n".join(lines)


def summary_line(results: list[CaseResult]) -> str:
    counts = {}
    for res in results:
        counts[res.status] = counts.get(res.status, 0) + 1
    parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    wall = sum(r.wall_s for r in results)
    verdict = "FAILED" if suite_failed(results) else "OK"
    return f"{verdict}: {len(results)} cases ({parts}) in {wall:.1f} s"


def _md(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def report_markdown(results: list[CaseResult], figures: dict) -> str:
    """report.md: the table, then a short section per case with its figures."""
    lines = ["# chemomech validation report", "",
             "Kinds: calibration (the study's rows the material files were fitted to), analytical "
             "(closed-form solutions), self-consistency (GITT of the model's own run), finding (the "
             "study's qualitative findings, reported as measured, never tuned to and never a failure).", "",
             f"**{summary_line(results)}**", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in table_rows(results):
        lines.append("| " + " | ".join(_md(v) for v in row) + " |")
    for res in results:
        lines += ["", f"## {res.case.name} ({res.case.kind}): {res.status}", "",
                  f"{res.case.description}. Run time {res.wall_s:.1f} s.", ""]
        if res.outcome.text:
            lines += [res.outcome.text, ""]
        for name in figures.get(res.case.name, []):
            lines += [f"![{res.case.name}]({name})", ""]
    return "\n".join(lines).rstrip() + "\n"


def report_json(results: list[CaseResult]) -> dict:
    return {
        "failed": suite_failed(results),
        "cases": [
            {"name": r.case.name, "kind": r.case.kind, "status": r.status, "wall_s": r.wall_s, "error": r.error,
             "rows": [{"quantity": x.quantity, "target": x.target, "source": x.source, "model": x.model,
                       "model_text": x.model_text, "tolerance": x.tolerance, "status": x.status}
                      for x in r.outcome.rows]}
            for r in results
        ],
    }


def write_report(results: list[CaseResult], out: str | Path, force: bool = False) -> Path:
    """Write report.md, report.json and the figures into `out` (replaced atomically)."""
    from chemomech.io.atomic import staged_directory
    from chemomech.plotting import save_figure

    out = Path(out)
    with staged_directory(out, force) as staging:
        figures = {}
        for res in results:
            for name, fig in res.outcome.figures.items():
                save_figure(fig, staging / name)
                figures.setdefault(res.case.name, []).append(name)
        (staging / "report.md").write_text(report_markdown(results, figures))
        (staging / "report.json").write_text(json.dumps(report_json(results), indent=1) + "\n")
    return out


def close_figures(results: list[CaseResult]) -> None:
    """Close the figures of results that are not written (no --out wanted)."""
    import matplotlib.pyplot as plt

    for res in results:
        for fig in res.outcome.figures.values():
            plt.close(fig)
