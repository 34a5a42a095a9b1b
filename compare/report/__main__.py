"""Saved runs: ``python -m compare.report show RUN.json`` and ``python -m compare.report diff A.json B.json``.

- ``show RUN.json [--markdown F] [--csv DIR] [--plot DIR]``: the run's text report, exactly as
  the run printed it, from the file alone (nothing is recomputed); optionally its Markdown,
  CSV files and charts.
- ``diff A.json B.json [--fail-slower FACTOR]``: two runs side by side: times and their ratio
  per row, which differences lie beyond the runs' own noise (a rank test on the timed runs,
  :mod:`compare.report.diff`), warnings when the runs are not comparable (data set, net,
  machine, threads, versions), and the agreement figures of both. With ``--fail-slower``, a
  gate for CI: exit status 1 when a timing row of B is slower than A's by more than FACTOR,
  beyond noise.
- ``schema``: the JSON schema of a report (the README's section is this output).

A file of a schema version this code does not read, or one that is not a report, is refused
with one line (exit status 2). Exit status of ``show``: the saved run's own (0 ok, 1 a check
failed). Of ``diff``: 0, or with ``--fail-slower`` 1 when a row is slower as above and 3 when
no timing row of B matches one of A (no verdict); a FACTOR that is not a number above 1 is
bad usage (2). Runs that are not comparable are still judged: the warnings come first and the
gate's last line names them.
"""

from __future__ import annotations

import argparse
import sys

from compare.cli import Parser, command, program
from compare.exits import UsageError, fail

SUBCOMMANDS = {
    "show": "print a saved run's report",
    "diff": "two saved runs side by side",
    "schema": "print the JSON schema of a report",
}


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=program("compare.report"), description="Show or compare saved runs of python -m compare.run.")
    sub = p.add_subparsers(dest="command", metavar="{show,diff,schema}", parser_class=Parser)
    show = sub.add_parser("show", help=SUBCOMMANDS["show"], version=False)
    show.add_argument("run", metavar="RUN.json")
    show.add_argument(
        "--markdown", dest="markdown_path", metavar="PATH", help="also write it as Markdown (- for standard output)"
    )
    show.add_argument("--csv", dest="csv_dir", metavar="DIR", help="also write one CSV per table into DIR")
    show.add_argument("--plot", dest="plot_dir", metavar="DIR", help="also write PNG charts into DIR")
    compare = sub.add_parser("diff", help=SUBCOMMANDS["diff"], version=False)
    compare.add_argument("a", metavar="A.json")
    compare.add_argument("b", metavar="B.json")
    compare.add_argument(
        "--fail-slower",
        type=factor_above_one,
        metavar="FACTOR",
        help="exit 1 when a timing row of B is slower than A's by more than FACTOR (B / A > FACTOR, a number "
        "above 1) beyond noise",
    )
    sub.add_parser("schema", help=SUBCOMMANDS["schema"], version=False)
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; a missing subcommand is bad usage that names the subcommands."""
    ns = _parser().parse_args(argv)
    if ns.command is None:
        choices = "; ".join(f"{name} ({what})" for name, what in SUBCOMMANDS.items())
        raise UsageError(f"choose a subcommand: {choices}")
    return ns


def load(path: str):
    """The :class:`~compare.report.model.Report` saved at ``path``; OSError or SchemaError otherwise."""
    from compare.report.model import Report

    return Report.load(path)


def _show(ns: argparse.Namespace) -> int:
    from compare.config import SECTIONS
    from compare.preflight import Input, check_outputs
    from compare.report import plots, text
    from compare.report.outputs import report_outputs, write_outputs
    from compare.streams import takes_stdout

    report = load(ns.run)
    sections = [s for s in SECTIONS if getattr(report, s) is not None]
    paths = {"markdown_path": ns.markdown_path, "csv_dir": ns.csv_dir, "plot_dir": ns.plot_dir}
    check_outputs(report_outputs(sections, **paths), [Input("the saved report", ns.run)])
    if ns.plot_dir is not None and not plots.available():
        return fail("--plot needs matplotlib: pip install '.[plot]'")
    out = sys.stderr if takes_stdout(ns.markdown_path) else sys.stdout  # --markdown -: the Markdown is stdout's
    print(text.render(report), file=out, flush=True)  # the text first: a file that cannot be written must not cost it
    write_outputs(report, **paths)
    return 0 if report.ok else 1


def factor_above_one(text: str) -> float:
    """``--fail-slower``'s FACTOR: a finite number above 1 (B / A beyond it fails)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number above 1, got {text!r}") from None
    if not (1 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number above 1 (B / A beyond it fails), got {text!r}")
    return value


def _diff(ns: argparse.Namespace) -> int:
    from compare.report.diff import diff
    from compare.report.diff_tables import diff_text, gate_text

    d = diff(load(ns.a), load(ns.b), ns.a, ns.b)
    print(diff_text(d), end="", flush=True)
    if ns.fail_slower is None:
        return 0
    if not d.times:
        return fail("no timing row of B matches one of A: --fail-slower has nothing to judge", 3)
    lines, failed = gate_text(d, ns.fail_slower)
    print(lines, end="")
    return 1 if failed else 0


def execute(ns: argparse.Namespace) -> int:
    from compare.pathsafety import OutputError
    from compare.report.codec import SchemaError

    if ns.command == "schema":
        from compare.report.model import schema_text

        print(schema_text(), end="")
        return 0
    try:
        return _show(ns) if ns.command == "show" else _diff(ns)
    except SchemaError as e:
        return fail(str(e))
    except OutputError as e:
        return fail(str(e))  # it names the file


def main(argv: list[str] | None = None) -> int:
    return command(argv, parse_args, execute)


if __name__ == "__main__":
    sys.exit(main())
