"""The files a command reads, named before any work so that no output is written over one of them.

- an ``--impl`` spec: the ``.py`` file of a path spec (``mine.py:Net``), the module's file of a
  module spec (``pkg.mod:Net``), found the way ``import`` would find it but without running it,
  and the local modules that file imports (:func:`local_imports`: the book's ``common/layers.py``);
- ``--dataset mnist``: the four IDX files (``.gz`` or raw) in every place the run may read them
  from or download them into: ``--data-dir`` when given, else ``$DLFS_MNIST_DIR`` and the cache
  (:func:`compare.data.mnist_files.search_path`);
- a saved report (``compare.report show RUN.json``, ``compare.teach --from RUN.json``).

:func:`compare.preflight.check_outputs` refuses an output that is one of them. Usage::

    check_outputs(outputs, [*impl_inputs(cfg.impls), *mnist_inputs(cfg.data_dir)])
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterable
from importlib.machinery import ModuleSpec
from pathlib import Path

from compare.data import DataError
from compare.preflight import Input


def impl_inputs(specs: Iterable[str]) -> list[Input]:
    """The file of each ``--impl`` spec that names one (a spec that cannot be parsed is refused by its loader)."""
    from dlfs_gradcheck.usercode import SpecError, parse_spec

    out = []
    for text in specs:
        try:
            spec = parse_spec(text)
        except SpecError:
            continue
        path = spec.target if spec.is_file else module_file(spec.target)
        if path:
            out.append(Input("the --impl file", path))
            if not spec.is_file:  # importing a.b.c runs a/__init__.py and a/b/__init__.py first
                out += [Input("a module the --impl file imports", p) for p in _package_inits(path, spec.target)]
            out += [Input("a module the --impl file imports", p) for p in local_imports(path)]
    return out


def _package_inits(path: str, dotted: str) -> list[str]:
    """The ``__init__.py`` files of the packages above module ``dotted`` (found at ``path``)."""
    module = dotted.split(":")[0]
    folder = Path(path).resolve().parent if Path(path).name != "__init__.py" else Path(path).resolve().parent.parent
    out = []
    for _ in range(module.count(".")):
        init = folder / "__init__.py"
        if init.is_file():
            out.append(os.fspath(init))
        folder = folder.parent
    return out


MAX_HELPERS = 500  # files followed from one --impl file (a repository's worth)


def local_imports(path: str | os.PathLike[str]) -> list[str]:
    """The local ``.py`` files ``path`` imports, directly or through them, read without running any.

    A learner's file reaches its helpers through its own folder, the folder above it (the book's
    ``sys.path.append(os.pardir)``) or the working directory and the one above it; each
    ``import a.b`` and ``from a.b import c`` is looked up there as ``a/b.py``, ``a/b/__init__.py``
    and ``a/b/c.py``. Installed packages are not looked for: no output could be one of them
    without also being outside these folders.
    """
    start = Path(path).resolve()
    if not start.is_file():  # a FIFO or a device is never read (its loader refuses it): reading could block
        return []
    bases = list(dict.fromkeys([start.parent, start.parent.parent, Path.cwd(), Path.cwd().parent]))
    seen, todo = {start}, [start]
    while todo and len(seen) < MAX_HELPERS:
        current = todo.pop()
        for level, name in _imported_names(current):
            # from . import x / from ..a import b: below the file's own package folder, nowhere else
            roots = [current.parents[level - 1]] if level else bases
            for base in roots:
                parts = name.split(".")
                packages = [base.joinpath(*parts[:i], "__init__.py") for i in range(1, len(parts))]  # run first
                for candidate in (
                    *packages,
                    base.joinpath(*parts).with_suffix(".py"),
                    base.joinpath(*parts, "__init__.py"),
                ):
                    if candidate.is_file() and candidate.resolve() not in seen:
                        seen.add(candidate.resolve())
                        todo.append(candidate.resolve())
    return sorted(os.fspath(p) for p in seen - {start})


def _imported_names(path: Path) -> list[tuple[int, str]]:
    """(level, dotted name) of what ``path`` imports: ``from a.b import c`` gives a.b and a.b.c; [] if unreadable."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(0, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level <= len(path.parents):
            module = node.module or ""
            if module:
                names.append((node.level, module))
            names += [(node.level, f"{module}.{a.name}".lstrip(".")) for a in node.names if a.name != "*"]
    return names


def _find_spec(name: str, path: list[str] | None) -> ModuleSpec | None:
    """What ``import`` finds for ``name`` (its parent package's ``path`` given), asking the finders only."""
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        try:
            spec = find(name, path)
        except (ImportError, ValueError, OSError):
            continue
        if spec is not None:
            return spec
    return None


def module_file(name: str) -> str | None:
    """The file of module ``name`` (``pkg.mod``), found without importing it or its packages; None if not found."""
    spec, path = None, None
    parts = name.split(".")
    for i in range(len(parts)):
        full = ".".join(parts[: i + 1])
        module = sys.modules.get(full)
        spec = getattr(module, "__spec__", None) if module is not None else _find_spec(full, path)
        if spec is None:
            return None
        path = spec.submodule_search_locations
        if i < len(parts) - 1 and path is None:  # not a package: the module cannot be found below it
            return None
    return spec.origin if spec is not None and spec.has_location else None


def mnist_inputs(data_dir: str | None) -> list[Input]:
    """The MNIST files a run may read or download: in ``data_dir``, else in ``$DLFS_MNIST_DIR`` and the cache."""
    from compare.data.mnist_files import FILES, search_path

    try:
        places = search_path(data_dir)
    except DataError:  # an unusable place: the run refuses it when it looks there
        return []
    if data_dir is not None:  # an explicit directory is the only place looked in
        places = places[:1]
    folders = [folder for _, folder in places if folder is not None]
    return [
        Input("the MNIST file", os.fspath(Path(folder) / (stem + ext)))
        for folder in folders
        for stem in FILES.values()
        for ext in (".gz", "")
    ]
