"""Regenerate ``docs/why-backprop.md`` from a real run on this machine.

Run::

    python -m compare.teach --doc docs/why-backprop.md
    python -m compare.teach --lang ja      # docs/why-backprop.ja.md, and zh-TW, nan-TW likewise

It runs every section of ``python -m compare.run`` (defaults: the book's settings on the
bundled digits) with the full cost-growth study, then writes the page: the plain-words
summary, the cost-growth tables, time per gradient and the projected training time, the
agreement found, and the float32 lesson. With matplotlib installed (``pip install
".[plot]"``) the charts go beside the page, in ``docs/why-backprop/``. Every number on the
page comes from that run; nothing is typed in by hand. Takes one to two minutes on 2 cores.

``--lang en|zh-TW|ja|nan-TW`` picks the language of the prose and the chart labels (default: from
the locale, else English); the glossary of the page's terms is written beside it
(``glossary.md``, ``glossary.ja.md``, ...).

Exit status: 0 when every agreement check of the run passed, 1 when one failed (the page is
written either way and says so), 2 for bad usage or an unwritable path.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from compare.cli import Parser, command, program
from compare.config import RunConfig, path_option, thread_count
from compare.exits import fail
from compare.i18n import _, add_lang_option, use


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = RunConfig()
    p = Parser(prog=program("compare.teach"), description="Regenerate docs/why-backprop.md.")
    p.add_argument(
        "--doc",
        type=path_option,
        help="the page to write (default: docs/why-backprop.md, docs/why-backprop.ja.md, ...)",
    )
    p.add_argument(
        "--threads", type=thread_count, default=d.threads, help="BLAS / torch threads (default: %(default)s)"
    )
    p.add_argument("--no-plots", dest="plots", action="store_false", help="no charts, even with matplotlib")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress notes")
    p.add_argument(
        "--from", dest="source", type=path_option, metavar="RUN.json", help="render a saved run instead of running anew"
    )
    add_lang_option(p)
    ns = p.parse_args(argv)
    ns.lang_given = ns.lang is not None
    ns.lang = use(ns.lang)
    if ns.doc is None:
        ns.doc = "docs/why-backprop.md" if ns.lang == "en" else f"docs/why-backprop.{ns.lang}.md"
    return ns


def main(argv: list[str] | None = None) -> int:
    return command(argv, parse_args, _regenerate)


def _report(ns: argparse.Namespace):
    """The run the page shows: loaded from ``--from``, or made now with the book's settings."""
    if ns.source is not None:
        from compare.report.__main__ import load

        return load(ns.source)
    from compare import harness

    cfg = RunConfig(threads=ns.threads, scaling="full", progress=False)

    def note(text: str) -> None:
        if ns.progress:
            print(f"... {text}", file=sys.stderr, flush=True)

    return harness.run(cfg, note=note)


def _chart_note(charts: dict[str, str]) -> str:
    """A line for the page when its charts could not be labelled in its language ('' otherwise)."""
    from compare import i18n
    from compare.report import fonts

    if not charts or i18n.current() == "en" or fonts.chart_language()[0] != "en":
        return ""
    return _("No CJK-capable font was found on the machine that drew the charts: their labels are in English.")


def _regenerate(ns: argparse.Namespace) -> int:
    from compare.files import write_atomic
    from compare.pathsafety import OutputError, shown
    from compare.preflight import Input, Output, check_outputs
    from compare.report import plots
    from compare.report.codec import SchemaError
    from compare.report.glossary import glossary_name, render_glossary
    from compare.report.teach_doc import render_doc

    doc = Path(ns.doc)
    chart_dir = doc.parent / doc.stem  # docs/why-backprop/ beside docs/why-backprop.md
    with_plots = ns.plots and plots.available()
    glossary = doc.parent / glossary_name()
    try:
        saved = _report(ns) if ns.source else None  # reading it is no work; a fresh run comes after the checks
        held = [s for s in plots.CHART_FILES if saved is None or getattr(saved, s, None) is not None]
        charts_out = Output("charts", chart_dir if with_plots else None, ".png", plots.chart_names(held))
        source = [Input("the --from report", ns.source)] if ns.source is not None else []
        outputs = [Output("--doc", ns.doc), Output("glossary", glossary), charts_out]
        check_outputs(outputs, source)  # the text: "x.md/" is refused
        report = saved or _report(ns)
    except (OutputError, SchemaError) as e:
        return fail(str(e))
    except OSError as e:
        return fail(f"cannot read {ns.source}: {e.strerror or e}")
    charts = {}
    if with_plots:
        for path in plots.write_plots(report, chart_dir):
            charts[path.name] = os.path.relpath(path, doc.parent).replace(os.sep, "/")
    command = f"python -m compare.teach --doc {ns.doc}" + (f" --lang {ns.lang}" if ns.lang_given else "")
    command += "" if ns.threads == RunConfig().threads else f" --threads {ns.threads}"
    command += "" if ns.plots else " --no-plots"
    command += f" --from {ns.source}" if ns.source else ""
    try:
        write_atomic(doc, render_doc(report, charts, command, _chart_note(charts)))
        write_atomic(glossary, render_glossary())
    except OSError as e:
        return fail(str(e))  # OutputError names the file
    wrote = _("wrote {page} and {glossary}").format(page=shown(doc), glossary=shown(glossary))
    if charts:
        wrote += _(", and {n} charts in {folder}").format(n=len(charts), folder=shown(chart_dir))
    print(wrote)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
