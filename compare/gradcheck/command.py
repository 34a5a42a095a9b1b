"""Command line: ``python -m compare.gradcheck [options]`` checks this project's nets.

Builds the book's net (``init_params``: weights ``std * randn``, zero biases,
seeded) and a seeded synthetic batch (:func:`compare.data.make_synthetic`),
then checks the built-in nets (each registered framework's own net that the checker
knows, :mod:`compare.registry`: numpy's backprop and PyTorch's autograd) against a
float64 numerical reference. Full mode (the default) checks a seeded sample of
``--max-entries`` entries per parameter (all of them for smaller parameters;
``--max-entries 0`` checks everything: 2 loss evaluations per entry, 79,520 at 784-50-10).

Exit status: 0 when every check passes, 1 when one fails (the tables show the
offending entries), 2 for bad usage or input, or a check that cannot be made (a loss
too large for the reference to resolve its gradient; one line on stderr), 130 when
interrupted. Installed, the same command is ``dlfs-gradcheck``.

``--ranks N`` (full mode) splits each parameter's entries over N local ranks of a torchrun
job (:func:`compare.gradcheck.sharded.sharded_gradcheck`): every rank rebuilds the same seeded
problem from this configuration, computes its share of the reference derivatives, and the
shares are gathered as float64 tensors; the report equals one process's at the same
``--threads`` (per rank). A rank that fails ends the job: exit 3, one line, no JSON written.

Examples::

    python -m compare.gradcheck --activation relu --dtype float32 --mode fast --reference complex
    python -m compare.gradcheck --sizes 64,10,10 --max-entries 0 --loss book --impl numpy   # the book's 1e-7
    python -m compare.gradcheck --impl mine/two_layer_net.py:TwoLayerNet --mode fast          # your own class

``--impl`` takes a built-in net's name, ``numpy`` or ``torch`` (comma lists too), or a
``[LABEL=]path/to/file.py:ClassName`` / ``package.module:ClassName`` spec (see
:mod:`dlfs_gradcheck.usercode`), and may be repeated; given only specs, only the plugged classes
are checked. A plugged class is built at ``--sizes``, gets the shared weights written into its own
arrays, and its ``gradient`` (else its ``numerical_gradient``) is checked against the cross-entropy
of its own ``predict``. Its crash is a FAIL naming the line in its file; a spec that cannot be
loaded exits 2.

Its options and configuration: :mod:`compare.gradcheck.command_options`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING

from compare.config import UsageError, fail, run_main
from compare.gradcheck.command_options import GradcheckConfig, checked_frameworks, parse_args
from compare.terminal import use_stand_ins

if TYPE_CHECKING:
    from dlfs_gradcheck.entrywise import EntryShard


@contextmanager
def limit_threads(threads: int, *, with_torch: bool) -> Iterator[None]:
    """BLAS (and torch) thread counts for the duration; numpy is already loaded, so through threadpoolctl.

    On a busy 2-core machine, measured: a small torch forward pass took 12 ms
    with two threads instead of 0.08 ms with one.
    """
    before = None
    if with_torch:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        try:
            from threadpoolctl import threadpool_limits  # a dependency; guarded all the same
        except ImportError:
            yield
        else:
            with threadpool_limits(threads, user_api="blas"):
                yield
    finally:
        if before is not None:
            torch.set_num_threads(before)


def run(cfg: GradcheckConfig, shard: EntryShard | None = None) -> tuple[bool, dict[str, object], str]:
    """Run the checks of ``cfg``; returns (ok, JSON-ready dict, text). ``shard``: this rank's share of a job."""
    import numpy as np

    # Weights so large that the loss overflows are refused in one line: numpy's warnings would come first.
    with limit_threads(cfg.threads, with_torch="torch" in cfg.impls), np.errstate(all="ignore"):
        return _run(cfg, shard)


def _run(cfg: GradcheckConfig, shard: EntryShard | None = None) -> tuple[bool, dict[str, object], str]:
    from compare.data import make_synthetic
    from impl_numpy import init_params

    d, h, c = cfg.sizes
    data = make_synthetic(n_train=cfg.batch, n_test=1, input_size=d, n_classes=c, seed=cfg.seed)
    x, t = data.x_train, data.t_train  # (batch, D), (batch,)
    params = init_params(d, h, c, weight_init_std=cfg.weight_init_std, seed=cfg.seed)
    options = {
        "mode": cfg.mode,
        "reference": cfg.reference,
        "eps": cfg.eps,
        "rtol": cfg.rtol,
        "atol": cfg.atol,
        "seed": cfg.seed,
        "max_entries": cfg.max_entries or None,
        "directions": cfg.directions,
    }
    reports = []
    nets = checked_frameworks()
    for impl in cfg.impls:  # each registered framework's own net (its checker_problem), in the registry's order
        problem, label = nets[impl].checker_problem(params, x, t, cfg)
        reports.append(problem.check(label=label, shard=shard, **options))
    blocks = [r.table() for r in reports]
    plugged = _check_plugins(cfg, params, x, t, options) if cfg.plugins else []
    crashed = [(label, f) for _, f, _, label in plugged if f is not None]
    reports += [r for r, _, _, _ in plugged if r is not None]
    blocks += [text for _, _, text, _ in plugged]
    ok = all(r.ok for r in reports) and not crashed
    failed = [f"{r.label}: {', '.join(r.failed)}" for r in reports if not r.ok]
    failed += [f"{label}.{f.method}: failed" for label, f in crashed]
    verdict = "gradcheck: ok" if ok else "gradcheck: FAIL (" + "; ".join(failed) + ")"
    text = "\n\n".join(blocks) + "\n\n" + verdict
    doc = {"schema": 1, "config": asdict(cfg), "ok": ok, "reports": [r.to_dict() for r in reports]}
    if cfg.plugins:
        doc["failures"] = [{"label": label, **f.to_dict()} for label, f in crashed]
    return ok, doc, text if not cfg.quiet else verdict


def _check_plugins(cfg: GradcheckConfig, params: dict, x, t, options: dict) -> list[tuple[object, object, str, str]]:
    """Check each ``--impl`` spec's class: (report or None, ImplementationFailure or None, text, label) each."""
    from dlfs_gradcheck.errors import NonDeterministicError
    from dlfs_gradcheck.net_problems import book_net_problem, torch_module_net_problem
    from dlfs_gradcheck.usercode import ImplementationFailure, build_net, check_activation, load_impls
    from dlfs_gradcheck.usercode.numcheck import check_numerical

    d, h, c = cfg.sizes
    out = []
    for loaded in load_impls(cfg.plugins, taken=cfg.impls):
        net = None  # not built yet: a failing constructor has no probing faults to add
        try:
            net = build_net(loaded, d, h, c, cfg.weight_init_std, dtype=cfg.dtype)
            net.load(params)
            method = "gradient"
            if loaded.kind == "torch":
                problem = torch_module_net_problem(net, x, t)
            else:
                net.probe(x, t)
                check_activation(loaded.spec, net.activation, cfg.activation if cfg.activation_given else None)
                method = "gradient" if "gradient" in net.provided else "numerical_gradient"
                loss = "book" if method == "numerical_gradient" and net.loss_kind == "book" else cfg.loss
                problem = book_net_problem(net, x, t, loss=loss, method=method, activation=cfg.activation)
            report = problem.check(**options)
        except NonDeterministicError as e:  # their forward pass is random: a failure of theirs, not bad usage
            e = ImplementationFailure("predict", str(e), error="non-deterministic")
            out.append((None, e, f"{loaded.label}: FAIL {e.line()}", loaded.label))
            continue
        except ImplementationFailure as e:
            out.append((None, e, f"{loaded.label}: FAIL {e.line()}", loaded.label))
            faults = [f for f in getattr(net, "faults", ()) if f is not e]  # e may be the fault that stopped it
            out += [(None, f, f"{loaded.label}: FAIL {f.line()}", loaded.label) for f in faults]
            continue
        missing = [m for m in net.not_provided if m in ("gradient", "numerical_gradient")]
        notes = "".join(f"\n  note: {m}: not provided" for m in missing)
        try:  # the class's own numerical gradient too, as compare.run checks it
            numerical = check_numerical(net, x, t) if method == "gradient" and loaded.kind != "torch" else None
        except ImplementationFailure as e:
            numerical = e
        if numerical is not None and not isinstance(numerical, ImplementationFailure):
            notes += f"\n  {'' if numerical.checked else 'note: '}{numerical.line}"
        out.append((report, None, report.table() + notes, loaded.label))
        if isinstance(numerical, ImplementationFailure):
            out.append((None, numerical, f"{loaded.label}: FAIL {numerical.line()}", loaded.label))
        for e in net.faults:  # the gradient may be right, a method that goes with it is not
            out.append((None, e, f"{loaded.label}: FAIL {e.line()}", loaded.label))
    return out


def main(argv: list[str] | None = None) -> int:
    """Parse, check, print, write JSON; return the exit status."""
    use_stand_ins()  # an ASCII terminal gets stand-ins for Δ, τ, ‖, not a UnicodeEncodeError
    try:
        cfg = parse_args(argv)
    except UsageError as e:
        return fail(str(e))
    return run_main(lambda: _execute(cfg))  # an OSError: exit 2; an internal error: exit 3, one line each


def _execute(cfg: GradcheckConfig) -> int:
    from compare.data import DataError
    from compare.files import to_json, write_atomic
    from compare.inputs import impl_inputs
    from compare.pathsafety import OutputError
    from compare.preflight import Output, check_outputs
    from compare.streams import takes_stdout
    from dlfs_gradcheck.errors import GradcheckError
    from dlfs_gradcheck.usercode import SpecError
    from impl_numpy.validation import NetInputError

    try:
        check_outputs([Output("--json", cfg.json_path)], impl_inputs(cfg.plugins))  # an empty path is refused
        if cfg.ranks > 1:
            from compare.gradcheck.sharded import sharded_gradcheck

            ok, doc, text = sharded_gradcheck(asdict(cfg), cfg.ranks, cfg.threads)
        else:
            ok, doc, text = run(cfg)
        if cfg.json_path is not None:
            write_atomic(cfg.json_path, to_json(doc))
    except (NetInputError, GradcheckError, DataError, OutputError, SpecError) as e:
        return fail(str(e))
    status = 0 if ok else 1
    out = sys.stderr if takes_stdout(cfg.json_path) else sys.stdout  # --json -: stdout is the JSON's
    try:
        print(text, file=out, flush=True)
    except BrokenPipeError:  # e.g. piped into head: the verdict is in the exit status
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    return status
