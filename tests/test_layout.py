"""The shape of the code: the documented JSON schema and code map, the import direction between roles, loops
between packages, module and function sizes, module names.

Run: ``python -m pytest tests/test_layout.py``. No checked module is imported to check it (only the
registry, to learn what a new ``impl_*`` package may import): every module under ``compare/``,
``dlfs_gradcheck/`` and each ``impl_*/`` is parsed with :mod:`ast`, imports inside functions included.

Roles, lowest first (a module may import its own level and those below, never above):

0. the implementations, ``impl_numpy``, ``impl_torch``, ``impl_jax``: the nets' math and nothing
   else. Each imports the standard library, its own array library (numpy; torch or jax beside it)
   and ``impl_numpy`` (the shared input checks and initial weights), never ``compare``, the checker
   or one another otherwise (see :data:`IMPL_MAY_IMPORT`);
1. leaves: ``compare.cli`` (with ``exits``, ``options``, ``resources``, ``signals``,
   ``supervise``), ``compare.config``, ``compare.env``, ``compare.files`` (with ``manifest``,
   ``pathsafety``, ``preflight``, ``streams``, ``tempfiles``), ``compare.i18n``,
   ``compare.terminal``, and the checker (``dlfs_gradcheck``, below);
2. data: ``compare.data``;
3. the report model: ``compare.report.model``, ``model_studies``, ``codec``, ``format``, ``upgrade``;
4. the engine: ``compare.engine``, and the plug-in and distributed packages beside it
   (``compare.distributed``, ``compare.jax_runner``; any other new package too);
5. the sections: ``compare.sections``;
6. the harness: ``compare.harness``;
7. renderers (``compare.report.text``, ``tables`` (with ``scaling_tables``, ``lesson_tables``,
   ``diff_tables``), ``layout``, ``csvfiles``, ``plots``, ``teach_doc``, ``diff``,
   ``__main__``) and entry points (``compare.run``, ``compare.teach``, ``compare.bench``,
   ``compare.gradcheck.command``).

The gradient checker is a package of its own, ``dlfs_gradcheck`` (with the adapters of users'
classes, ``dlfs_gradcheck.usercode``): it imports the implementations and never ``compare``, so
that it works in a repository with a ``compare`` of its own. ``compare.gradcheck`` re-exports it;
its command line (``compare.gradcheck.command``) is an entry point of the harness.

Loops between packages: a package is the folder its modules lie in (``compare.engine``,
``compare.distributed``, ``dlfs_gradcheck``, ``dlfs_gradcheck.usercode``, ``impl_numpy``, ...),
and package A depends on package B when a module of A imports one of B, inside a function or not.
No two packages may depend on each other, directly or through others: each package can then be
read, tested and changed knowing only those below it. Two refinements keep the rule about design,
not about where files happen to lie:

- a folder that holds modules of several roles is one node per role: ``compare/`` (leaves such as
  ``compare.cli``, the harness, the entry points) and ``compare/report/`` (the model and the
  renderers) would otherwise loop through every package between their roles
  (``compare.report.plots -> compare.sections -> compare.report.model``), which the role order
  already allows. ``compare [leaf]`` and ``compare.report [model]`` are nodes; what is left to
  find is a loop among packages of one role (``compare.engine`` and ``compare.distributed``
  importing each other);
- a package may import its own subpackages (``dlfs_gradcheck.net_problems`` uses
  ``dlfs_gradcheck.usercode``): they are its parts. The subpackage importing its parent counts
  like any import, so a loop that leaves the parent, reaches the subpackage by another package
  and comes back is still reported.

The module-level cycle check stays beside it: it names the modules of a loop that lies within
one package.

Names: no two modules share a file name (``__init__.py`` and ``__main__.py`` aside), and no two
differ only by a trailing ``s`` (``runner`` and ``runners``): a name in a traceback, a search or
an import then says which module it is.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from compare.report.__main__ import main as report_main
from compare.report.model import schema_text

REPO = Path(__file__).resolve().parents[1]
# implementation -> what it may import besides its own package and the standard library
IMPL_MAY_IMPORT = {
    "impl_numpy": {"numpy"},  # never torch or jax
    "impl_torch": {"numpy", "torch", "impl_numpy"},
    "impl_jax": {"numpy", "jax", "impl_numpy"},
}


def _registered_implementations() -> dict[str, set[str]]:
    """Every other ``impl_*`` package: numpy, ``impl_numpy`` and the modules its registered framework needs.

    A framework added as docs/contributing.md says is checked with no edit here: its package is
    found by its folder, and what it may import besides numpy is its ``Framework.modules``.
    """
    from compare import registry

    needs = {fw.model_package: set(fw.modules) for fw in registry.FRAMEWORKS if fw.model_package}
    found = sorted(p.name for p in REPO.glob("impl_*") if (p / "__init__.py").is_file())
    return {name: {"numpy", "impl_numpy", *needs.get(name, ())} for name in found if name not in IMPL_MAY_IMPORT}


IMPL_MAY_IMPORT |= _registered_implementations()
PROJECT = ("compare", "dlfs_gradcheck", *IMPL_MAY_IMPORT)  # the top-level packages checked here

LEAVES = {
    "compare",
    "compare.cli",  # what every command shares, and the modules beside it:
    "compare.exits",
    "compare.options",
    "compare.resources",
    "compare.signals",
    "compare.supervise",
    "compare.config",
    "compare.env",
    "compare.gradcheck",  # the checker's API, re-exported from dlfs_gradcheck
    "compare.files",  # the atomic writer, and the modules it is built from:
    "compare.manifest",
    "compare.pathsafety",
    "compare.preflight",
    "compare.streams",
    "compare.tempfiles",
    "compare.i18n",  # the message catalogs: standard library only
    "compare.terminal",
}
MODEL = {
    "compare.report",
    "compare.report.model",
    "compare.report.model_studies",
    "compare.report.codec",
    "compare.report.format",
    "compare.report.upgrade",
}
RENDERERS = {
    f"compare.report.{m}"
    for m in (
        "text",
        "tables",
        "scaling_tables",
        "lesson_tables",
        "diff_tables",
        "layout",
        "csvfiles",
        "plots",
        "teach_doc",
        "teach_learn",
        "glossary",
        "fonts",
        "diff",
        "outputs",
        "__main__",
    )  # fmt: skip
}
ENTRY_POINTS = {
    "compare.run",
    "compare.teach",
    "compare.bench",
    "compare.jax_bench",
    "compare.gradcheck.command",
    "compare.gradcheck.__main__",
    "compare.gradcheck.versus",  # a measuring script
    "compare.gradcheck.ranks",  # the rank program of a sharded check (torchrun starts it)
}
LEVEL_NAMES = ["implementation", "leaf", "data", "model", "engine", "sections", "harness", "renderer/entry point"]

MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 300


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(p for top in PROJECT for p in (REPO / top).rglob("*.py"))}


def level(module: str) -> int:
    """The role level of a module (see the module docstring); the implementations are below the checker, a leaf."""
    if module.split(".")[0] in IMPL_MAY_IMPORT:
        return 0
    if module in LEAVES or module.startswith("dlfs_gradcheck"):
        return 1
    if module == "compare.data" or module.startswith("compare.data."):  # mnist, mnist_files, idx, ...
        return 2
    if module in MODEL:
        return 3
    if module in RENDERERS or module in ENTRY_POINTS:
        return 7
    if module == "compare.harness":
        return 6
    if module.startswith("compare.sections"):
        return 5
    return 4  # the engine, and packages beside it (adapters, distributed, jax_runner, anything new)


def all_imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for every import in ``path``; the project's resolved to modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((resolve(a.name), child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                for a in child.names:
                    # ``from compare.report import text`` imports the module compare.report.text
                    target = f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                    found.append((resolve(target), child.lineno, in_function))
            visit(child, inner)

    visit(tree, False)
    return [(m, line, lazy) for m, line, lazy in found if m != me]


def resolve(name: str) -> str:
    """The longest known module that ``name`` is or lies in (``compare.data.idx.IDXError`` -> ``compare.data.idx``).

    A name outside the project (``numpy.linalg``) is returned as it is.
    """
    if name.split(".")[0] not in PROJECT:
        return name
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for every import of the project's modules in ``path``."""
    return [(m, line, lazy) for m, line, lazy in all_imports(path) if m.split(".")[0] in PROJECT]


GRAPH = {m: imports(p) for m, p in MODULES.items()}
# implementation module -> (top-level name, line) of each import from outside the project
OUTSIDE = {
    m: [(t.split(".")[0], line) for t, line, _ in all_imports(p) if t.split(".")[0] not in PROJECT]
    for m, p in MODULES.items()
    if m.split(".")[0] in IMPL_MAY_IMPORT
}


def test_the_walk_sees_the_imports_it_should() -> None:
    """The parser itself: known imports of the harness, a relative import, one inside a function."""
    harness = {m for m, _, _ in GRAPH["compare.harness"]}
    assert {"compare.sections.gradients", "compare.registry", "compare.report.model"} <= harness
    lazy = {m for m, _, inside in GRAPH["compare.run"] if inside}
    assert {"compare.harness", "compare.report.text"} <= lazy
    assert level("compare.report.text") > level("compare.harness") > level("compare.sections.scaling")
    assert level("compare.sections.scaling") > level("compare.engine.gradient_timing") > level("compare.report.model")
    assert level("compare.report.model") > level("compare.data.mnist") > level("compare.config")
    assert level("compare.distributed") == level("compare.jax_runner") == level("compare.engine.protocol")
    assert level("compare.config") > level("impl_numpy.validation") == level("impl_jax.jax_two_layer_net")
    checker = {m for m, _, _ in GRAPH["dlfs_gradcheck.core"]}
    assert {"dlfs_gradcheck.check_arguments", "dlfs_gradcheck.diagnose"} <= checker
    assert "dlfs_gradcheck.metrics" in {m for m, _, _ in GRAPH["dlfs_gradcheck.resolution"]}
    assert {"impl_numpy.validation", "impl_jax.train"} <= {m for m, _, _ in GRAPH["impl_jax.jax_two_layer_net"]}
    assert {"numpy", "jax"} <= {top for top, _ in OUTSIDE["impl_jax.jax_two_layer_net"]}
    assert ("impl_numpy.validation", 35, False) in GRAPH[
        "impl_jax.jax_two_layer_net"
    ]  # a line number, as messages give it


def upward_imports() -> list[str]:
    out = []
    for module, found in GRAPH.items():
        for target, line, _lazy in found:
            where = f"{MODULES[module].relative_to(REPO)}:{line}: {module} imports {target}"
            if module.split(".")[0] in IMPL_MAY_IMPORT:
                top = module.split(".")[0]
                if target.split(".")[0] not in {top, *IMPL_MAY_IMPORT[top]}:
                    out.append(f"{where} (an implementation imports only {', '.join(sorted(IMPL_MAY_IMPORT[top]))})")
            elif module.startswith("dlfs_gradcheck"):
                if not (target.startswith("dlfs_gradcheck") or level(target) == 0):
                    out.append(f"{where} (the checker imports nothing of the harness)")
            elif level(target) > level(module):
                out.append(f"{where} ({LEVEL_NAMES[level(module)]} imports {LEVEL_NAMES[level(target)]})")
    return out


def test_no_module_imports_against_the_role_order() -> None:
    bad = upward_imports()
    assert not bad, "imports against the role order:\n  " + "\n  ".join(bad)


def foreign_imports() -> list[str]:
    """``path:line: module imports name`` for each library an implementation imports that it may not."""
    out = []
    for module, found in OUTSIDE.items():
        allowed = IMPL_MAY_IMPORT[module.split(".")[0]]
        for top, line in found:
            if top not in allowed and top not in sys.stdlib_module_names and top != "__future__":
                out.append(
                    f"{MODULES[module].relative_to(REPO)}:{line}: {module} imports {top} (only {sorted(allowed)})"
                )
    return out


def test_implementations_import_only_their_own_libraries() -> None:
    bad = foreign_imports()
    assert not bad, "an implementation imports a library not its own:\n  " + "\n  ".join(bad)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node of ``graph`` (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def cycles() -> list[list[str]]:
    """Groups of modules that import each other, directly or through others."""
    return strongly_connected({m: {t for t, _, _ in found} for m, found in GRAPH.items()})


def test_no_import_cycle_between_modules() -> None:
    found = cycles()
    assert not found, "import cycles:\n  " + "\n  ".join(" <-> ".join(c) for c in found)


def folder_of(module: str) -> str:
    """The package ``module`` lies in: the folder of its file, as a dotted name."""
    return module_name(MODULES[module].parent / "__init__.py")


FOLDER_LEVELS: dict[str, set[int]] = {}
for _module in MODULES:
    FOLDER_LEVELS.setdefault(folder_of(_module), set()).add(level(_module))


def package_of(module: str) -> str:
    """The node of ``module`` in the package graph: its folder, and its role where the folder holds several."""
    folder = folder_of(module)
    if len(FOLDER_LEVELS[folder]) == 1:
        return folder
    return f"{folder} [{LEVEL_NAMES[level(module)]}]"


def inside(folder: str, parent: str) -> bool:
    """Whether ``folder`` is a subpackage of ``parent`` (at any depth)."""
    return folder.startswith(parent + ".")


def package_edges() -> list[tuple[str, str, str, int, str]]:
    """(node, node imported, module, line, module imported) of each import between two nodes that counts.

    A package importing one of its own subpackages does not count: the subpackage is a part of it.
    """
    out = set()
    for module, found in GRAPH.items():
        for target, line, _ in found:
            a, b = package_of(module), package_of(target)
            if a != b and not inside(folder_of(target), folder_of(module)):
                out.add((a, b, module, line, target))
    return sorted(out)


def package_loops() -> list[str]:
    """For each group of packages that reach each other: the group, then every import between its packages."""
    edges = package_edges()
    graph: dict[str, set[str]] = {}
    for a, b, _, _, _ in edges:
        graph.setdefault(a, set()).add(b)
    out = []
    for group in strongly_connected(graph):
        lines = [" <-> ".join(group)]
        for a, b, module, line, target in edges:
            if a in group and b in group:
                lines.append(f"  {a} -> {b}: {MODULES[module].relative_to(REPO)}:{line} ({module} imports {target})")
        out.append("\n  ".join(lines))
    return out


def test_no_loop_between_packages() -> None:
    found = package_loops()
    assert not found, "packages that import each other (see the module docstring):\n  " + "\n  ".join(found)


def test_the_cycle_and_order_checks_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted cycle, upward import, package loop and foreign library are reported."""
    monkeypatch.setitem(GRAPH, "compare.files", [*GRAPH["compare.files"], ("compare.harness", 1, False)])
    monkeypatch.setitem(GRAPH, "compare.harness", [*GRAPH["compare.harness"], ("compare.files", 1, False)])
    monkeypatch.setitem(GRAPH, "dlfs_gradcheck.core", [*GRAPH["dlfs_gradcheck.core"], ("compare.cli", 1, True)])
    monkeypatch.setitem(
        GRAPH, "impl_numpy.layers", [*GRAPH["impl_numpy.layers"], ("impl_torch.torch_two_layer_net", 7, True)]
    )
    monkeypatch.setitem(OUTSIDE, "impl_numpy.functions", [*OUTSIDE["impl_numpy.functions"], ("torch", 9)])
    assert any({"compare.harness", "compare.files"} <= set(c) for c in cycles())
    assert any("compare.files imports compare.harness" in line for line in upward_imports())
    assert any("dlfs_gradcheck.core imports compare.cli" in line for line in upward_imports())
    assert any(
        "impl_numpy.layers imports impl_torch.torch_two_layer_net (an implementation" in line
        for line in upward_imports()
    )
    assert foreign_imports() == ["impl_numpy/functions.py:9: impl_numpy.functions imports torch (only ['numpy'])"]
    loops = package_loops()
    assert any(
        "impl_numpy -> impl_torch: impl_numpy/layers.py:7 (impl_numpy.layers imports impl_torch.torch_two_layer_net)"
        in loop
        and "impl_torch -> impl_numpy: impl_torch/torch_two_layer_net.py:" in loop
        for loop in loops
    ), loops


def test_a_loop_through_a_third_package_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """engine -> model is allowed; model -> data -> engine closes a loop of three packages, each import named."""
    monkeypatch.setitem(GRAPH, "compare.report.model", [*GRAPH["compare.report.model"], ("compare.data.base", 3, True)])
    monkeypatch.setitem(
        GRAPH, "compare.data.base", [*GRAPH["compare.data.base"], ("compare.engine.protocol", 5, False)]
    )
    (loop,) = [line for line in package_loops() if "compare.data -> compare.engine" in line]
    assert {"compare.data", "compare.engine", "compare.report [model]"} <= set(loop.splitlines()[0].split(" <-> "))
    assert "compare/report/model.py:3 (compare.report.model imports compare.data.base)" in loop
    assert "compare.engine -> compare.report [model]: compare/engine/" in loop


def test_packages_are_split_by_role_and_own_their_subpackages() -> None:
    """compare/ and compare/report/ hold several roles: a node each; a package may use its own subpackage."""
    assert package_of("compare.report.model") == "compare.report [model]" != package_of("compare.report.text")
    assert (
        package_of("compare.harness") == "compare [harness]"
        and package_of("compare.engine.protocol") == "compare.engine"
    )
    assert package_of("dlfs_gradcheck.usercode.checks") == "dlfs_gradcheck.usercode"
    edges = {(a, b) for a, b, *_ in package_edges()}
    assert ("dlfs_gradcheck.usercode", "dlfs_gradcheck") in edges
    assert ("dlfs_gradcheck", "dlfs_gradcheck.usercode") not in edges  # dlfs_gradcheck.net_problems uses its part


# -- sizes -------------------------------------------------------------------------------------------------


def long_functions(tree: ast.Module) -> list[tuple[str, int]]:
    """(name, lines) of every function or method longer than MAX_FUNCTION_LINES, decorators excluded."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                out.append((node.name, n))
    return out


def size_violations(paths: Iterable[Path] = MODULES.values()) -> list[str]:
    """``path (N lines)`` for each long module, ``path: name() (N lines)`` for each long function. No exceptions."""
    out = []
    for path in paths:
        source = path.read_text(encoding="utf-8")
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        n_lines = source.count("\n")
        if n_lines > MAX_MODULE_LINES:
            out.append(f"{shown} ({n_lines} lines)")
        out += [f"{shown}: {name}() ({n} lines)" for name, n in long_functions(ast.parse(source))]
    return out


def test_modules_and_functions_are_short() -> None:
    """Every module at most ~300 lines and every function at most ~60, in every package checked here."""
    found = size_violations()
    assert not found, f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function:\n  " + "\n  ".join(
        found
    )


def test_size_check_counts_function_lines() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    tree = ast.parse(f"def short():\n    pass\n\n\ndef long():\n{body}\n")
    assert long_functions(tree) == [("long", MAX_FUNCTION_LINES + 1)]


def test_size_check_sees_every_package_and_exempts_nothing(tmp_path: Path) -> None:
    """The implementations and the checker are measured too, and a docstring saying why is no exemption."""
    assert {"impl_numpy", "impl_torch", "impl_jax", "dlfs_gradcheck.usercode"} <= set(map(folder_of, MODULES))
    planted = tmp_path / "long.py"
    planted.write_text('"""Longer than 300 lines: it says why."""\n' + "x = 1\n" * MAX_MODULE_LINES, encoding="utf-8")
    assert size_violations([planted]) == [f"{planted} ({MAX_MODULE_LINES + 1} lines)"]


# -- names -------------------------------------------------------------------------------------------------

SHARED_NAMES = {"__init__.py", "__main__.py"}  # every package has them


def same_names(paths: Iterable[Path]) -> list[str]:
    """Modules that share a file name, and module names that differ only by a trailing ``s``."""
    by_name: dict[str, list[Path]] = {}
    for path in paths:
        if path.name not in SHARED_NAMES:
            by_name.setdefault(path.name, []).append(path)
    out = [
        " and ".join(str(p) for p in sorted(found)) + " share a name" for found in by_name.values() if len(found) > 1
    ]
    stems = {Path(name).stem: found for name, found in by_name.items()}
    for stem, found in sorted(stems.items()):
        if stem + "s" in stems:
            both = sorted([*found, *stems[stem + "s"]])
            out.append(" and ".join(str(p) for p in both) + " differ only by a trailing s")
    return out


def test_no_two_modules_share_a_name() -> None:
    found = same_names(p.relative_to(REPO) for p in MODULES.values())
    assert not found, "module names that do not say which module they are:\n  " + "\n  ".join(found)


def test_the_name_check_can_fail() -> None:
    found = same_names(
        map(Path, ["a/timing.py", "b/timing.py", "a/runner.py", "c/runners.py", "a/__init__.py", "b/__init__.py"])
    )
    assert found == [
        "a/timing.py and b/timing.py share a name",
        "a/runner.py and c/runners.py differ only by a trailing s",
    ]


# -- the documented schema ----------------------------------------------------------------------------------

SCHEMA_PAGE = REPO / "docs" / "report-schema.md"


def documented_schema() -> str:
    page = SCHEMA_PAGE.read_text(encoding="utf-8")
    match = re.search(r"<!-- schema:begin -->\n```text\n(.*?)```\n<!-- schema:end -->", page, re.DOTALL)
    assert match, "docs/report-schema.md has no schema block between <!-- schema:begin --> and <!-- schema:end -->"
    return match.group(1)


def test_documented_schema_is_the_generated_one() -> None:
    assert documented_schema() == schema_text(), (
        "docs/report-schema.md's JSON schema differs from the report model: paste the output of "
        "`python -m compare.report schema` between its schema markers"
    )


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main(["schema"]) == 0
    assert capsys.readouterr().out == schema_text()
    assert "\nGradientRow\n" in schema_text() and "  max_rel: float  # " in schema_text()


# -- the code map ---------------------------------------------------------------------------------------------

CODE_MAP = REPO / "docs" / "architecture.md"
MAPPED_ROOTS = ("compare", "dlfs_gradcheck", *IMPL_MAY_IMPORT)


def code_map() -> dict[str, set[str]]:
    """Package folder (``compare/engine/``) -> the module file names its row of the code map names."""
    page = CODE_MAP.read_text(encoding="utf-8")
    match = re.search(r"<!-- code-map:begin -->\n(.*?)<!-- code-map:end -->", page, re.DOTALL)
    assert match, "docs/architecture.md has no table between <!-- code-map:begin --> and <!-- code-map:end -->"
    rows = {}
    for line in match.group(1).splitlines():
        cells = line.split(" | ", 1)
        folder = re.fullmatch(r"\| `([\w/]+/)`", cells[0])
        if folder:
            rows[folder.group(1)] = set(re.findall(r"`([\w]+\.py)`", cells[1]))
    return rows


def packages() -> dict[str, set[str]]:
    """Package folder -> its module files (``__init__.py`` aside: the row itself stands for it)."""
    found: dict[str, set[str]] = {}
    for root in MAPPED_ROOTS:
        for init in (REPO / root).rglob("__init__.py"):
            folder = init.parent
            found[f"{folder.relative_to(REPO).as_posix()}/"] = {p.name for p in folder.glob("*.py")} - {"__init__.py"}
    return found


def test_the_code_map_names_every_package_and_module_and_nothing_else() -> None:
    mapped, real = code_map(), packages()
    problems = [f"{p}: a package without a row" for p in sorted(real.keys() - mapped.keys())]
    problems += [f"{p}: a row for no package" for p in sorted(mapped.keys() - real.keys())]
    for folder in sorted(real.keys() & mapped.keys()):
        problems += [f"{folder}{m}: not in its row" for m in sorted(real[folder] - mapped[folder])]
        named = mapped[folder] - real[folder] - {"__init__.py"}
        problems += [f"{folder}{m}: named, but no such module" for m in sorted(named)]
    assert not problems, "docs/architecture.md's code map is out of date:\n" + "\n".join(problems)


def test_the_code_map_check_sees_a_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    mapped = code_map()
    mapped["compare/engine/"] = mapped["compare/engine/"] - {"protocol.py"}
    monkeypatch.setitem(globals(), "code_map", lambda: mapped)
    with pytest.raises(AssertionError, match="compare/engine/protocol.py: not in its row"):
        test_the_code_map_names_every_package_and_module_and_nothing_else()
