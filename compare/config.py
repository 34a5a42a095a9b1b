"""The run's configuration: one dataclass, filled from the command line.

Defaults reproduce the book's ``train_neuralnet.py`` (hidden 50, batch 100,
learning rate 0.1, 10,000 iterations, init std 0.01) on the bundled digits.
This module imports only the standard library: a command whose options do not
come from the framework registry is parsed, and its thread count set, before
numpy or torch start (``compare.run`` reads the registry's switches, which loads
numpy first; :func:`compare.env.set_threads` then limits its BLAS in place).

The parser is built group by group (data and model, training, where and how, output), every
option of the run in this one module.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field

from compare.cli import Parser, program  # noqa: F401  (re-exported for the commands)
from compare.exits import RunIncomplete, UsageError, fail  # noqa: F401
from compare.i18n import add_lang_option, use
from compare.options import (  # noqa: F401
    comma_choices,
    int_at_least,
    non_negative_int,
    path_option,
    positive_float,
    positive_int,
    thread_count,
)
from compare.resources import check_memory, check_processes, usable_cpus  # noqa: F401
from compare.supervise import run_main  # noqa: F401

SECTIONS = ("gradients", "trajectory", "timing", "scaling", "lesson")
SCALING_FORMS = ("auto", "reduced", "full")
DATASETS = ("digits", "synthetic", "mnist")
ACTIVATIONS = ("sigmoid", "relu")
DTYPES = ("float64", "float32")
DEVICES = ("auto", "cpu", "cuda", "mps")
# (input size D, classes C, train rows, test rows) of each data set, for the memory estimate.
DATA_SHAPES = {"digits": (64, 10, 1500, 297), "synthetic": (784, 10, 1000, 200), "mnist": (784, 10, 60000, 10000)}
# One BLAS / torch thread unless --threads says otherwise. Measured on a 2-core machine (README, "Threads"): two
# threads made the 784-50-10 times up to 1.5x shorter on an idle machine, but beside two busy programs made
# autograd up to 31x slower and the whole default run 2.3x slower; at 64-50-10 they gained nothing even idle.
DEFAULT_THREADS = 1
BASE_BYTES = 400 * 2**20  # the interpreter, numpy, torch and the fixed-size timing and scaling sections


@dataclass
class RunConfig:
    dataset: str = "digits"  # digits | synthetic | mnist
    data_dir: str | None = None  # MNIST directory (else $DLFS_MNIST_DIR, else the user cache)
    download: bool = False  # fetch MNIST (md5-verified) when it is not found
    activation: str = "sigmoid"  # sigmoid (book ch. 4) | relu (ch. 5)
    hidden_size: int = 50  # book: 50
    batch_size: int = 100  # book: 100
    learning_rate: float = 0.1  # book: 0.1
    iters: int = 10_000  # book: iters_num = 10000
    numerical_iters: int = 10  # training steps run with the book's (slow) numerical gradient loop
    fast_numerical_iters: int = 300  # training steps run with the fast numerical gradient
    numerical_seconds: float = 5.0  # each numerical run stops after the step that spends this budget
    weight_init_std: float = 0.01  # book: 0.01 * randn
    h: float = 1e-4  # central-difference step, book: 1e-4
    seed: int = 0  # initial weights and the batch stream
    dtype: str = "float64"  # dtype of backprop and autograd (numerical is always float64)
    device: str = "auto"  # torch device(s): auto = cpu plus every accelerator present
    threads: int = DEFAULT_THREADS  # BLAS / torch threads (why 1 by default: README, Threads)
    only: tuple[str, ...] = SECTIONS  # which sections to run
    switches: dict[str, bool] = field(default_factory=dict)  # optional framework -> in the run (--no-jax: jax false)
    ddp: int = 0  # --ddp N: also train on N local ranks with DistributedDataParallel (torchrun)
    ddp_weighting: str = "ddp"  # ddp: DDP's mean of per-rank means | batch: each rank's loss weighted by its share
    fsdp: bool = False  # with --ddp N, also FSDP2 (fully_shard) rows where torch supports it
    ranks: int = 1  # --ranks N: the numerical method's gradient (gradient section) on N local ranks, --threads each
    impls: tuple[str, ...] = ()  # --impl specs: [LABEL=]path/file.py:Class or package.module:Class
    full: bool = False  # time the book's numerical loop on all P parameters, not a sample
    sample: int = 200  # parameters sampled when timing the book's numerical loop
    scaling: str = "auto"  # cost-growth study: reduced | full | auto (full when --only picks sections)
    json_path: str | None = None  # write the JSON report here
    markdown_path: str | None = None  # write the report as Markdown here
    csv_dir: str | None = None  # write one CSV per table into this directory
    plot_dir: str | None = None  # write PNG charts into this directory (needs matplotlib)
    quiet: bool = False  # print only the final verdict line
    progress: bool = True  # tqdm bars on long phases (only when stderr is a terminal)


@dataclass(frozen=True)
class Switch:
    """The command-line switch of an optional framework (``Framework.switch`` in :mod:`compare.registry`)."""

    flag: str  # "--no-jax" for a framework in every run by default, "--compile" for one left out by default
    default: bool  # whether its rows are in a run that does not give the flag
    help: str  # the --help line


_sections = comma_choices(SECTIONS, "section(s)")


def build_parser(switches: Mapping[str, Switch] | None = None) -> argparse.ArgumentParser:
    """The run's parser, with the ``switches`` of the registered frameworks, by name (the command passes them)."""
    d = RunConfig()
    p = Parser(
        prog=program("compare.run"),
        description="Check that numpy's numerical gradient, numpy's backprop and PyTorch's autograd agree "
        "from shared weights, on one batch and along a training run, and time them.",
    )
    data = p.add_argument_group("data and model")
    data.add_argument("--dataset", choices=DATASETS, default=d.dataset, help="default: %(default)s (bundled)")
    data.add_argument(
        "--data-dir",
        type=path_option,
        help="MNIST directory with the four IDX files (else $DLFS_MNIST_DIR, else cache)",
    )
    data.add_argument("--download", action="store_true", help="download MNIST (md5-verified) if it is not found")
    data.add_argument("--activation", choices=ACTIVATIONS, default=d.activation, help="default: %(default)s")
    data.add_argument("--hidden-size", type=positive_int, default=d.hidden_size, help="default: %(default)s")
    _training_options(p.add_argument_group("training (the book's scheme)"), d)
    _run_options(p.add_argument_group("where and how"), d, switches or {})
    _output_options(p.add_argument_group("output"))
    return p


def _training_options(train: argparse._ArgumentGroup, d: RunConfig) -> None:
    train.add_argument("--batch-size", type=positive_int, default=d.batch_size, help="default: %(default)s")
    train.add_argument(
        "--learning-rate", "--lr", type=positive_float, default=d.learning_rate, help="default: %(default)s"
    )
    train.add_argument("--iters", type=positive_int, default=d.iters, help="default: %(default)s")
    train.add_argument(
        "--numerical-iters",
        type=non_negative_int,
        default=d.numerical_iters,
        help="steps trained with the book's numerical gradient loop (default: %(default)s; 0 skips)",
    )
    train.add_argument(
        "--fast-numerical-iters",
        type=non_negative_int,
        default=d.fast_numerical_iters,
        help="steps trained with the fast numerical gradient (default: %(default)s; 0 skips)",
    )
    train.add_argument(
        "--numerical-seconds",
        type=positive_float,
        default=d.numerical_seconds,
        help="time budget of each numerical training run; it stops after the step that spends it "
        "(default: %(default)s)",
    )
    train.add_argument(
        "--seed", type=non_negative_int, default=d.seed, help="weights and batch stream (default: %(default)s)"
    )


def _run_options(run: argparse._ArgumentGroup, d: RunConfig, switches: Mapping[str, Switch]) -> None:
    run.add_argument("--dtype", choices=DTYPES, default=d.dtype, help="backprop/autograd dtype (default: %(default)s)")
    run.add_argument("--device", choices=DEVICES, default=d.device, help="torch device (default: %(default)s)")
    run.add_argument(
        "--threads",
        type=thread_count,
        default=d.threads,
        help="BLAS and torch threads, at most the CPUs this process may use (default: %(default)s thread: measured on "
        "2 cores, 2 threads were up to 1.5x faster at 784-50-10 when idle and up to 31x slower beside other work)",
    )
    run.add_argument(
        "--impl",
        dest="impls",
        action="append",
        default=[],
        metavar="SPEC",
        help="check your own implementation too: [LABEL=]path/to/file.py:ClassName or package.module:ClassName "
        "(a book-style class or a torch.nn.Module; repeatable)",
    )
    _framework_options(run, d, switches)
    run.add_argument(
        "--ranks",
        type=positive_int,
        default=d.ranks,
        metavar="N",
        help="the numerical method's gradient (gradient section) split over N local ranks of a torchrun job, "
        "--threads BLAS threads each: bit-identical to one process at the same --threads; its training "
        "steps and timing stay in one process (default: %(default)s)",
    )
    run.add_argument("--only", type=_sections, default=d.only, help="comma list of " + ",".join(SECTIONS))
    run.add_argument(
        "--full",
        action="store_true",
        help="time the book's numerical loop on every parameter (timing section; the scaling study always samples)",
    )
    run.add_argument(
        "--scaling",
        choices=SCALING_FORMS,
        default=d.scaling,
        help="cost-growth study: reduced (a few seconds), full, or auto: full when --only names the sections, "
        "reduced in a run of all of them (default: %(default)s)",
    )


def _framework_options(run: argparse._ArgumentGroup, d: RunConfig, switches: Mapping[str, Switch]) -> None:
    """Each registered switch (stored as ``switch:NAME``, gathered by :func:`parse_args`), then DDP's valued options."""
    for name, s in switches.items():
        run.add_argument(s.flag, dest=f"switch:{name}", action="store_const", const=not s.default, help=s.help)
    run.add_argument(
        "--ddp",
        type=non_negative_int,
        default=d.ddp,
        metavar="N",
        help="also train on N local ranks with DistributedDataParallel through torchrun (gloo on CPU)",
    )
    run.add_argument(
        "--ddp-weighting",
        choices=("ddp", "batch"),
        help="with --ddp N: ddp: DDP's mean of per-rank means (differs from one process when N does not divide "
        f"the batch); batch: each rank's loss weighted by its share of the batch (default: {d.ddp_weighting})",
    )
    run.add_argument("--fsdp", action="store_true", help="with --ddp N, also FSDP2 (fully_shard) rows")


def _output_options(out: argparse._ArgumentGroup) -> None:
    out.add_argument(
        "--json",
        dest="json_path",
        type=path_option,
        metavar="PATH",
        help="write the JSON report (atomically; - for standard output, the text report then goes to standard error)",
    )
    out.add_argument(
        "--markdown",
        dest="markdown_path",
        type=path_option,
        metavar="PATH",
        help="write the report as Markdown (- for standard output, as --json)",
    )
    out.add_argument("--csv", dest="csv_dir", type=path_option, metavar="DIR", help="write one CSV per table into DIR")
    out.add_argument(
        "--plot", dest="plot_dir", type=path_option, metavar="DIR", help="write PNG charts into DIR (needs matplotlib)"
    )
    out.add_argument("--quiet", action="store_true", help="print only the verdict")
    out.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    add_lang_option(out)


def parse_args(argv: list[str] | None = None, switches: Mapping[str, Switch] | None = None) -> RunConfig:
    """Parse the command line into a :class:`RunConfig`; raise :class:`UsageError` on bad options.

    ``switches``: the registered frameworks' (``compare.run`` passes them); each one's state is recorded.
    """
    switches = switches or {}
    parser = build_parser(switches)
    ns = parser.parse_args(argv)
    given = {name: vars(ns).pop(f"switch:{name}") for name in switches}
    ns.switches = {name: s.default if given[name] is None else given[name] for name, s in switches.items()}
    if ns.dataset != "mnist" and (ns.data_dir is not None or ns.download):
        parser.error("--data-dir and --download apply to --dataset mnist only")
    ns.impls = tuple(ns.impls)
    entries = param_count(DATA_SHAPES[ns.dataset][0], ns.hidden_size, DATA_SHAPES[ns.dataset][1])
    if ns.ranks > entries:
        parser.error(f"--ranks {ns.ranks} is more than the {entries} parameter entries to share")
    _check_ddp_options(ns)
    use(vars(ns).pop("lang"))  # the language of the prose (compare.i18n); the report's data stays English
    cfg = RunConfig(**vars(ns))
    check_memory(*memory_estimate(cfg))
    return cfg


def _check_ddp_options(ns: argparse.Namespace) -> None:
    """The distributed options: no rank count beyond the usable CPUs; --fsdp and --ddp-weighting only with --ddp."""
    if not ns.ddp:
        given = [o for o, on in (("--fsdp", ns.fsdp), ("--ddp-weighting", ns.ddp_weighting is not None)) if on]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise UsageError(f"{' and '.join(given)} {verb} to --ddp N only (the DistributedDataParallel rows)")
    ns.ddp_weighting = ns.ddp_weighting or RunConfig.ddp_weighting
    if ns.ranks > 1:
        check_processes("--ranks", ns.ranks)
    if ns.ddp:
        check_processes("--ddp", ns.ddp)


def param_count(input_size: int, hidden_size: int, output_size: int) -> int:
    """P, the two-layer net's parameters: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)."""
    return input_size * hidden_size + hidden_size + hidden_size * output_size + output_size


def memory_estimate(cfg: RunConfig) -> tuple[int, str]:
    """(bytes, the options that need them): a generous estimate of the run's peak memory.

    Counts float64 arrays: the data set (and a copy per framework), 16 copies of the
    parameters (initial weights, each method's net and gradient, snapshots), each method's
    activations for a batch and for an accuracy pass over the data, the (iters, batch) index
    stream and the loss records.
    """
    d, c, n_train, n_test = DATA_SHAPES[cfg.dataset]
    h, b = cfg.hidden_size, cfg.batch_size
    terms = {
        f"--hidden-size {h}": 16 * param_count(d, h, c) + 2 * (n_train + n_test) * (h + c),
        f"--batch-size {b}": 8 * b * (d + h + c),
        f"--iters {cfg.iters} at --batch-size {b}": cfg.iters * (b + 8),
    }
    data = 3 * (n_train + n_test) * d
    total = 8 * (sum(terms.values()) + data) + BASE_BYTES
    return total, f"this run ({max(terms, key=terms.__getitem__)})"
