"""The options of ``python -m compare.gradcheck``: its configuration dataclass, parser and memory estimate.

The command itself (what runs the check and prints it) is :mod:`compare.gradcheck.command`; the
rank program of a sharded check (:mod:`compare.gradcheck.ranks`) rebuilds the check from a
:class:`GradcheckConfig` too.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
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
    non_negative_int,
    param_count,
    path_option,
    positive_float,
    positive_int,
    program,
    thread_count,
)
from dlfs_gradcheck.check_arguments import MODES
from dlfs_gradcheck.metrics import REFERENCES

if TYPE_CHECKING:
    from compare.registry.framework_info import Framework

LOSSES = ("exact", "book")


def checked_frameworks() -> dict[str, Framework]:
    """Name -> each registered framework whose own net the checker checks, in the registry's order.

    Those with a ``checker_problem`` (numpy's backprop, torch's autograd): their names are what
    ``--impl`` takes besides a spec. The registry is read when it is asked for, not when this
    module is imported, so that importing the options loads no engine.
    """
    from compare import registry

    return {fw.name: fw for fw in registry.FRAMEWORKS if fw.checker_problem is not None}


def impl_names() -> tuple[str, ...]:
    """The ``--impl`` names of the built-in nets, and the default: every one of them."""
    return tuple(checked_frameworks())


@dataclass
class GradcheckConfig:
    impls: tuple[str, ...] = field(default_factory=impl_names)  # which built-in nets: numpy (backprop), torch, ...
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


def _impl_or_spec(text: str) -> tuple[str, ...]:
    """A built-in net's name (``numpy``, ``torch``), a comma list of them, or one spec (kept as ``("spec", text)``)."""
    if ":" in text:
        return ("spec", text)
    return comma_choices(impl_names(), "implementation(s)")(text)


def build_parser() -> argparse.ArgumentParser:
    d = GradcheckConfig()
    names = impl_names()
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
        help=f"{', '.join(names)}, or your own class as [LABEL=]path/to/file.py:ClassName (repeatable; "
        f"default: {','.join(names)})",
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
    _add_run_options(p, d)
    return p


def _add_run_options(p: argparse.ArgumentParser, d: GradcheckConfig) -> None:
    """How the check runs and what it writes: entries, directions, loss, device, threads, ranks, output."""
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


def parse_args(argv: list[str] | None = None) -> GradcheckConfig:
    ns = build_parser().parse_args(argv)
    nets = checked_frameworks()
    given = ns.impls or [tuple(nets)]
    ns.impls = tuple(name for name in nets if any(name in g for g in given if g[0] != "spec"))
    ns.activation_given = ns.activation is not None
    ns.activation = ns.activation or GradcheckConfig.activation
    cfg = GradcheckConfig(**vars(ns), plugins=tuple(g[1] for g in given if g[0] == "spec"))
    takes = [name for name, fw in nets.items() if cfg.loss in fw.checker_losses]  # --loss book: numpy's net only
    if any(name not in takes for name in cfg.impls):
        which = f"the {' and '.join(takes)} net{'s' if len(takes) > 1 else ''} only"
        raise UsageError(f"--loss {cfg.loss} applies to {which}; add --impl {','.join(takes)}")
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
    params = 12 * param_count(d, h, c)
    batch = 4 * cfg.batch * (d + h + c)
    cause = "--sizes " + ",".join(map(str, cfg.sizes)) if params >= batch else f"--batch {cfg.batch}"
    ranks = f" on {cfg.ranks} ranks" if cfg.ranks > 1 else ""
    return cfg.ranks * (16 * (params + batch) + 400 * 2**20), f"this check ({cause}{ranks})"
