"""Command line: ``python -m compare.run [options]``.

Checks, from shared initial weights and one shared batch stream, that numpy's
numerical gradient, numpy's backprop and PyTorch's autograd agree (on one batch
and along a training run), then prints timing tables.

Exit status: 0 when every agreement check passes, 1 when one fails (the tables
show which), 2 for bad usage or input (one line on stderr), 130 when
interrupted. Run ``python -m compare.run --help`` for the options.
"""

from __future__ import annotations

import sys
from dataclasses import asdict

from compare.config import RunConfig, UsageError, fail, parse_args, run_main
from compare.env import set_threads


def _check_outputs(cfg: RunConfig) -> None:
    from compare.report.files import OutputError, check_writable

    if cfg.json_path is not None:
        check_writable(cfg.json_path)
    if cfg.markdown_path is not None:
        check_writable(cfg.markdown_path)
    if cfg.csv_dir is not None:
        check_writable(cfg.csv_dir, directory=True)
    if cfg.plot_dir is not None:
        from compare.report import plots

        if not plots.available():
            raise OutputError("--plot needs matplotlib: pip install '.[plot]'")
        check_writable(cfg.plot_dir, directory=True)


def execute(cfg: RunConfig) -> int:
    """Run with a parsed config (threads already set); return the exit status."""
    from compare import env, harness
    from compare.data import DataError
    from compare.report import files, text
    from impl_numpy.checks import NetInputError

    show_progress = cfg.progress and not cfg.quiet and sys.stderr.isatty()

    def note(text: str) -> None:
        if show_progress:
            print(f"... {text}", file=sys.stderr, flush=True)

    try:
        _check_outputs(cfg)  # before any work: a bad path must not cost a whole run
        result = harness.run(cfg, note=note, progress=show_progress)
    except (NetInputError, DataError, files.OutputError) as e:
        return fail(str(e))

    full = {
        "schema_version": text.SCHEMA_VERSION,
        "env": env.collect(cfg.seed, cfg.threads, result["devices"]),
        "config": asdict(cfg),
        **result,
    }
    full["config"]["only"] = list(cfg.only)
    try:
        if cfg.json_path:
            files.write_atomic(cfg.json_path, files.to_json(full))
        if cfg.markdown_path:
            files.write_atomic(cfg.markdown_path, text.render(full, "github"))
        if cfg.csv_dir:
            text.write_csv(cfg.csv_dir, full)
        if cfg.plot_dir:
            from compare.report import plots

            plots.write_plots(full, cfg.plot_dir)
    except OSError as e:
        return fail(f"cannot write the report: {e.strerror or e}")
    print(text.verdict(full) if cfg.quiet else text.render(full))
    return 0 if full["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    try:
        cfg = parse_args(argv)
    except UsageError as e:
        return fail(str(e))
    set_threads(cfg.threads)  # before numpy and torch load their thread pools
    return run_main(lambda: execute(cfg))


if __name__ == "__main__":
    sys.exit(main())
