"""Command line: ``python -m compare.run [options]`` (also installed as ``dlfs-compare``).

Checks, from shared initial weights and one shared batch stream, that numpy's
numerical gradient, numpy's backprop and PyTorch's autograd (and any implementation
plugged in with ``--impl``) agree, on one batch and along a training run, then prints
timing tables and the "why backprop?" lesson.

Exit status: 0 when every agreement check passes, 1 when one fails (the tables show
which), 2 for bad usage or input (one line on stderr), 3 for a run that could not
complete (training diverged, an internal error; one line), 130 when interrupted.
Run ``python -m compare.run --help`` for the options.
"""

from __future__ import annotations

import sys

from compare import config
from compare.cli import command
from compare.config import RunConfig
from compare.exits import fail


def build_parser():
    """The run's parser, with the switches of the registered frameworks (for ``--help`` and the docs)."""
    from compare import registry

    return config.build_parser(registry.switches())


def parse_args(argv: list[str] | None = None) -> RunConfig:
    """The run's command line, with the switches of the registered frameworks (``--no-jax``, ``--compile``).

    Importing the registry loads numpy: the thread count is still pinned before it computes
    anything (:func:`compare.env.set_threads` limits a BLAS already loaded).
    """
    from compare import registry

    return config.parse_args(argv, registry.switches())


def _check_plotting(cfg: RunConfig) -> None:
    """``--plot`` needs matplotlib (the paths themselves are checked by :func:`check_files`)."""
    from compare.pathsafety import OutputError
    from compare.report import plots

    if cfg.plot_dir is not None and not plots.available():
        raise OutputError("--plot needs matplotlib: pip install '.[plot]'")


def check_files(cfg: RunConfig) -> None:
    """Every output writable, no two on one file, none on a file the run reads: before any work (OutputError)."""
    from compare.inputs import impl_inputs, mnist_inputs
    from compare.preflight import check_outputs
    from compare.report.outputs import report_outputs

    outputs = report_outputs(
        cfg.only, json_path=cfg.json_path, markdown_path=cfg.markdown_path, csv_dir=cfg.csv_dir, plot_dir=cfg.plot_dir
    )
    inputs = impl_inputs(cfg.impls) + (mnist_inputs(cfg.data_dir) if cfg.dataset == "mnist" else [])
    check_outputs(outputs, inputs)


def execute(cfg: RunConfig) -> int:
    """Run with a parsed config (threads already set); return the exit status."""
    from compare.pathsafety import OutputError

    try:
        check_files(cfg)
    except OutputError as e:
        return fail(str(e))
    from compare import harness
    from compare.data import DataError
    from compare.report import text
    from compare.report.outputs import write_outputs
    from compare.streams import takes_stdout
    from dlfs_gradcheck.usercode import SpecError
    from impl_numpy.validation import NetInputError

    show_progress = cfg.progress and not cfg.quiet and sys.stderr.isatty()

    def note(message: str) -> None:
        if show_progress:
            print(f"... {message}", file=sys.stderr, flush=True)

    try:
        _check_plotting(cfg)  # before any work: a missing library must not cost a whole run
        report = harness.run(cfg, note=note, progress=show_progress)
    except (NetInputError, DataError, OutputError, SpecError) as e:
        return fail(str(e))
    # The text first: a file that cannot be written (a full disk) must not cost the printed results.
    # With --json - (or --markdown -) standard output is the file's: the text goes to standard error.
    out = sys.stderr if takes_stdout(cfg.json_path, cfg.markdown_path) else sys.stdout
    print(text.verdict_text(report) if cfg.quiet else text.render(report), file=out, flush=True)
    try:
        write_outputs(
            report, json_path=cfg.json_path, markdown_path=cfg.markdown_path, csv_dir=cfg.csv_dir,
            plot_dir=cfg.plot_dir,
        )  # fmt: skip
    except OutputError as e:
        return fail(str(e))  # it names the file
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    return command(argv, parse_args, execute)


if __name__ == "__main__":
    sys.exit(main())
