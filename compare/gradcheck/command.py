"""Command line: ``python -m compare.gradcheck [options]`` checks this project's nets.

Builds the book's net (``init_params``: weights ``std * randn``, zero biases,
seeded) and a seeded synthetic batch (:func:`compare.data.make_synthetic`),
then checks numpy's backprop and PyTorch's autograd against a float64 numerical
reference. Full mode (the default) checks a seeded sample of ``--max-entries``
entries per parameter (all of them for smaller parameters; ``--max-entries 0``
checks everything: 2 loss evaluations per entry, 79,520 at 784-50-10).

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

``--impl`` takes ``numpy``, ``torch`` (comma lists too) or a ``[LABEL=]path/to/file.py:ClassName`` /
``package.module:ClassName`` spec (see :mod:`dlfs_gradcheck.usercode`), and may be repeated; given only
specs, only the plugged classes are checked. A plugged class is built at ``--sizes``, gets the
shared weights written into its own arrays, and its ``gradient`` (else its
``numerical_gradient``) is checked against the cross-entropy of its own ``predict``. Its
crash is a FAIL naming the line in its file; a spec that cannot be loaded exits 2.

Longer than 300 lines: the checker's command line holds its own options, memory estimate and
the ``--impl`` path, which the library itself must not import.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from compare.config import (
    ACTIVATIONS,
    DEVICES,
    DTYPES,
    Parser,
    UsageError,
    check_memory,
    check_processes,
    comma_choices,
    fail,
    non_negative_int,
    path_option,
    positive_float,
    positive_int,
    program,
    run_main,
    thread_count,
)
from compare.terminal import use_stand_ins
from dlfs_gradcheck.metrics import REFERENCES

if TYPE_CHECKING:
    from dlfs_gradcheck.entrywise import EntryShard

IMPLS = ("numpy", "torch")
MODES = ("full", "fast")
LOSSES = ("exact", "book")


@dataclass
class GradcheckConfig:
    impls: tuple[str, ...] = IMPLS  # which nets: numpy (backprop), torch (autograd)
    plugins: tuple[str, ...] = ()  # --impl specs of the user's own classes ([LABEL=]file.py:Class)
    activation: str = "sigmoid"  # sigmoid (book ch. 4) | relu (ch. 5)
    activation_given: bool = False  # --activation was given: an --impl class's hidden layer must be that one
    dtype: str = "float64"  # dtype of the code under test; the reference is always float64
    sizes: tuple[int, int, int] = (784, 50, 10)  # input, hidden, output (book: 784, 50, 10)
    batch: int = 100  # rows of the synthetic batch (book: 100)
    weight_init_std: float = 0.01  # book: 0.01 * randn
    mode: str = "full"  # full: entry by entry (sampled); fast: Gaussian directions per parameter
    reference: str = "central"  # central | richardson | complex (numpy forward pass)
    eps: float | None = None  # base step h; None: the reference's default
    rtol: float | None = None  # replace the default tolerance
    atol: float | None = None
    seed: int = 0  # weights, batch, directions and samples
    max_entries: int = 256  # full mode: entries checked per parameter (0: all)
    directions: int = 4  # fast mode: directions per parameter
    loss: str = "exact"  # exact (what backprop differentiates) | book (with 1e-7; numpy only)
    device: str = "cpu"  # torch device of the code under test (the reference runs on the CPU)
    threads: int = 1  # BLAS and torch threads: each loss evaluation is small, more threads mostly wait
    ranks: int = 1  # full mode: entries split over this many local ranks of a torchrun job (threads each)
    json_path: str | None = None  # write the JSON report here (atomically)
    quiet: bool = False  # print only the verdict line


def _sizes(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1 or values[2] < 2:
        raise argparse.ArgumentTypeError(
            f"expected INPUT,HIDDEN,OUTPUT (positive integers, at least 2 outputs), got {text!r}"
        )
    return values  # type: ignore[return-value]


_impls = comma_choices(IMPLS, "implementation(s)")


def _impl_or_spec(text: str) -> tuple[str, ...]:
    """``numpy``, ``torch``, a comma list of them, or one spec (kept as ``("spec", text)``)."""
    if ":" in text:
        return ("spec", text)
    return _impls(text)


def build_parser() -> argparse.ArgumentParser:
    d = GradcheckConfig()
    p = Parser(
        prog=program("compare.gradcheck"),
        description="Check the nets' analytic gradients (numpy backprop, torch autograd) against a float64 "
        "numerical reference. Exit 1 when a check fails.",
    )
    p.add_argument(
        "--impl",
        dest="impls",
        type=_impl_or_spec,
        action="append",
        metavar="IMPL",
        help="numpy, torch, or your own class as [LABEL=]path/to/file.py:ClassName (repeatable; default: numpy,torch)",
    )
    p.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        help=f"default: {d.activation}; an --impl class is checked with its own hidden layer, which must be this "
        "one when given",
    )
    p.add_argument("--dtype", choices=DTYPES, default=d.dtype, help="dtype of the code under test")
    p.add_argument("--sizes", type=_sizes, default=d.sizes, help="INPUT,HIDDEN,OUTPUT (default: 784,50,10)")
    p.add_argument("--batch", type=positive_int, default=d.batch, help="batch rows (default: %(default)s)")
    p.add_argument(
        "--weight-std", dest="weight_init_std", type=positive_float, default=d.weight_init_std, help="default: 0.01"
    )
    p.add_argument("--mode", choices=MODES, default=d.mode, help="default: %(default)s")
    p.add_argument("--reference", choices=REFERENCES, default=d.reference, help="default: %(default)s")
    p.add_argument("--eps", type=positive_float, help="base step h (default: per reference)")
    p.add_argument("--rtol", type=positive_float, help="replace the default relative tolerance")
    p.add_argument("--atol", type=positive_float, help="replace the default absolute tolerance")
    p.add_argument("--seed", type=non_negative_int, default=d.seed, help="default: %(default)s")
    p.add_argument(
        "--max-entries",
        type=non_negative_int,
        default=d.max_entries,
        help="full mode: entries sampled per parameter, 0 = all (default: %(default)s)",
    )
    p.add_argument("--directions", type=positive_int, default=d.directions, help="fast mode (default: %(default)s)")
    p.add_argument("--loss", choices=LOSSES, default=d.loss, help="book: the book's 1e-7 loss (numpy only)")
    p.add_argument("--device", choices=DEVICES, default=d.device, help="torch device (default: %(default)s)")
    p.add_argument(
        "--threads",
        type=thread_count,
        default=d.threads,
        help="BLAS and torch threads (default: %(default)s; the checks make thousands of small calls)",
    )
    p.add_argument(
        "--ranks",
        type=positive_int,
        default=d.ranks,
        metavar="N",
        help="full mode: split the entries over N local ranks of a torchrun job (gloo, --threads each); "
        "the report equals one process's at the same --threads (default: %(default)s, no job)",
    )
    p.add_argument(
        "--json",
        dest="json_path",
        type=path_option,
        metavar="PATH",
        help="write the JSON report (atomically; - for standard output, the text then goes to standard error)",
    )
    p.add_argument("--quiet", action="store_true", help="print only the verdict")
    return p


def parse_args(argv: list[str] | None = None) -> GradcheckConfig:
    ns = build_parser().parse_args(argv)
    given = ns.impls or [IMPLS]
    ns.impls = tuple(name for name in IMPLS if any(name in g for g in given if g[0] != "spec"))
    ns.activation_given = ns.activation is not None
    ns.activation = ns.activation or GradcheckConfig.activation
    cfg = GradcheckConfig(**vars(ns), plugins=tuple(g[1] for g in given if g[0] == "spec"))
    if cfg.loss == "book" and "torch" in cfg.impls:
        raise UsageError("--loss book applies to the numpy net only; add --impl numpy")
    if cfg.ranks > 1 and cfg.mode != "full":
        raise UsageError("--ranks applies to --mode full: fast mode makes too few loss evaluations to share")
    if cfg.ranks > 1 and cfg.plugins:
        raise UsageError("--ranks checks the numpy and torch nets; a plugged --impl class is checked in one process")
    if cfg.ranks > 1:
        check_processes("--ranks", cfg.ranks)
    check_memory(*memory_estimate(cfg))
    return cfg


def memory_estimate(cfg: GradcheckConfig) -> tuple[int, str]:
    """(bytes, the options that need them): a generous estimate of the check's peak memory.

    Counts 16-byte (complex-step) arrays: 12 copies of the parameters (the initial weights,
    each net, its gradient, the reference and its perturbed copies), and 4 copies of the
    batch and of each layer's activations (the seeded data is drawn with temporaries).
    """
    d, h, c = cfg.sizes
    params = 12 * (d * h + h + h * c + c)
    batch = 4 * cfg.batch * (d + h + c)
    cause = "--sizes " + ",".join(map(str, cfg.sizes)) if params >= batch else f"--batch {cfg.batch}"
    ranks = f" on {cfg.ranks} ranks" if cfg.ranks > 1 else ""
    return cfg.ranks * (16 * (params + batch) + 400 * 2**20), f"this check ({cause}{ranks})"


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
    from dlfs_gradcheck.problems import numpy_net_problem, torch_net_problem
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
    for impl in cfg.impls:
        if impl == "numpy":
            problem = numpy_net_problem(params, x, t, activation=cfg.activation, dtype=cfg.dtype, loss=cfg.loss)
            label = problem.label
        else:
            problem = torch_net_problem(params, x, t, activation=cfg.activation, dtype=cfg.dtype, device=cfg.device)
            label = problem.label
            if cfg.reference == "complex":  # torch's cross_entropy is not complex-safe
                label += " (complex-step reference: the numpy forward pass)"
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
            out += [(None, f, f"{loaded.label}: FAIL {f.line()}", loaded.label) for f in getattr(net, "faults", ())]
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
    from compare.files import Output, OutputError, check_outputs, takes_stdout, to_json, write_atomic
    from compare.inputs import impl_inputs
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
