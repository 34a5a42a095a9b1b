"""The comparison harness: same weights, same batches, numpy vs PyTorch.

Entry point: ``python -m compare.run`` (installed as ``dlfs-compare``). It treats ``impl_numpy``
and ``impl_torch`` as black boxes: shared initial weights in, gradients, losses and timings out.
``compare.__version__`` is the installed distribution's version (``"0+unknown"`` when the code
runs from a folder that was never installed).
"""

from __future__ import annotations

DISTRIBUTION = "dlfs-compare"  # the name pip knows the project by
UNKNOWN_VERSION = "0+unknown"  # a version that sorts before every release


def __getattr__(name: str) -> object:
    # Looked up on first use: importing the package (every command does) stays free of importlib.metadata.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(DISTRIBUTION)
        except PackageNotFoundError:
            return UNKNOWN_VERSION
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
