"""The files of a report, as the options ask: JSON, Markdown, CSV tables and charts.

Shared by ``python -m compare.run`` (a fresh run) and ``python -m compare.report show`` (a saved
one), so that both write the same files the same way (each atomically, through
:mod:`compare.files`).
"""

from __future__ import annotations

from collections.abc import Collection

from compare.files import write_atomic
from compare.preflight import Output
from compare.report import csvfiles, plots, text
from compare.report.model import Report


def report_outputs(
    sections: Collection[str],
    *,
    json_path: str | None = None,
    markdown_path: str | None = None,
    csv_dir: str | None = None,
    plot_dir: str | None = None,
) -> list[Output]:
    """What :func:`write_outputs` will write for a report of ``sections``: every file, for the checks before work."""
    return [
        Output("--json", json_path),
        Output("--markdown", markdown_path),
        Output("--csv", csv_dir, ".csv", csvfiles.csv_names(sections)),
        Output("--plot", plot_dir, ".png", plots.chart_names(sections)),
    ]


def write_outputs(
    report: Report,
    *,
    json_path: str | None = None,
    markdown_path: str | None = None,
    csv_dir: str | None = None,
    plot_dir: str | None = None,
) -> None:
    """Write each file whose path is given (checked before the work, with :func:`report_outputs`)."""
    if json_path:
        write_atomic(json_path, report.to_json())
    if markdown_path:
        write_atomic(markdown_path, text.render(report, "github"))
    if csv_dir:
        csvfiles.write_csv(csv_dir, report)
    if plot_dir:
        plots.write_plots(report, plot_dir)
