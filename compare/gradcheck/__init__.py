"""The gradient checker under the harness's name: the API of :mod:`dlfs_gradcheck`, re-exported.

``from compare.gradcheck import check_gradients`` and ``from dlfs_gradcheck import
check_gradients`` give the same function. In a repository with a ``compare.py`` or
``compare/`` of its own, import :mod:`dlfs_gradcheck` (and run ``dlfs-gradcheck``): it
never imports ``compare``. The command line is :mod:`compare.gradcheck.command`.
"""

from __future__ import annotations

import dlfs_gradcheck


def __getattr__(name: str) -> object:
    if name in dlfs_gradcheck.__all__:
        return getattr(dlfs_gradcheck, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(dlfs_gradcheck.__all__)
