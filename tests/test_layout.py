"""The shape of the code: the README's JSON schema, the import direction between roles, module and function sizes.

Run: ``python -m pytest tests/test_layout.py``. Nothing is imported to check the layout: every
module under ``compare/`` is parsed with :mod:`ast`, imports inside functions included.

Roles, lowest first (a module may import its own level and those below, never above):

0. leaves: ``compare.cli``, ``compare.config``, ``compare.env``, ``compare.files``, ``compare.i18n``,
   ``compare.incomplete``,
   ``compare.terminal``, and the
   checker (``dlfs_gradcheck``, below);
1. data: ``compare.data``;
2. the report model: ``compare.report.model``, ``model_studies``, ``codec``, ``format``;
3. the engine: ``compare.engine``, and the plug-in and distributed packages beside it
   (``compare.distributed``, ``compare.jax_runner``; any other new package too);
4. the sections: ``compare.sections``;
5. the harness: ``compare.harness``;
6. renderers (``compare.report.text``, ``tables``, ``layout``, ``csvfiles``, ``plots``, ``teach_doc``, ``diff``,
   ``__main__``) and entry points (``compare.run``, ``compare.teach``, ``compare.bench``,
   ``compare.gradcheck.command``).

The gradient checker is a package of its own, ``dlfs_gradcheck`` (with the adapters of users'
classes, ``dlfs_gradcheck.usercode``): it never imports ``compare``, so that it works in a
repository with a ``compare`` of its own. ``compare.gradcheck`` re-exports it; its command line
(``compare.gradcheck.command``) is an entry point of the harness.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from compare.report.__main__ import main as report_main
from compare.report.model import schema_text

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "compare"
CHECKER = REPO / "dlfs_gradcheck"

LEAVES = {
    "compare",
    "compare.cli",
    "compare.config",
    "compare.env",
    "compare.gradcheck",  # the checker's API, re-exported from dlfs_gradcheck
    "compare.files",
    "compare.i18n",  # the message catalogs: standard library only
    "compare.incomplete",  # the error of a run that could not complete (exit status 3)
    "compare.terminal",
}
MODEL = {
    "compare.report",
    "compare.report.model",
    "compare.report.model_studies",
    "compare.report.codec",
    "compare.report.format",
}
RENDERERS = {
    f"compare.report.{m}"
    for m in (
        "text",
        "tables",
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
LEVEL_NAMES = ["leaf", "data", "model", "engine", "sections", "harness", "renderer/entry point"]

MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 300
REASON = re.compile(r"Longer than [^.]*\.", re.IGNORECASE)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted([*PACKAGE.rglob("*.py"), *CHECKER.rglob("*.py")])}


def level(module: str) -> int:
    """The role level of a module under ``compare`` (see the module docstring); the checker is a leaf."""
    if module in LEAVES or module.startswith("dlfs_gradcheck"):
        return 0
    if module == "compare.data" or module.startswith("compare.data."):
        return 1
    if module in MODEL:
        return 2
    if module in RENDERERS or module in ENTRY_POINTS:
        return 6
    if module == "compare.harness":
        return 5
    if module.startswith("compare.sections"):
        return 4
    return 3  # the engine, and packages beside it (adapters, distributed, jax_runner, anything new)


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for every import of ``compare`` modules in ``path``."""
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
    return [(m, line, lazy) for m, line, lazy in found if m.split(".")[0] in ("compare", "dlfs_gradcheck") and m != me]


def resolve(name: str) -> str:
    """The longest known module that ``name`` is or lies in (``compare.data.mnist.FILES`` -> ``compare.data.mnist``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


GRAPH = {m: imports(p) for m, p in MODULES.items()}


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
    checker = {m for m, _, _ in GRAPH["dlfs_gradcheck.core"]}
    assert {"dlfs_gradcheck.metrics", "dlfs_gradcheck.diagnose"} <= checker


def upward_imports() -> list[str]:
    out = []
    for module, found in GRAPH.items():
        for target, line, _lazy in found:
            where = f"{MODULES[module].relative_to(REPO)}:{line}: {module} imports {target}"
            if module.startswith("dlfs_gradcheck"):
                if not target.startswith("dlfs_gradcheck"):
                    out.append(f"{where} (the checker imports nothing of the harness)")
            elif level(target) > level(module):
                out.append(f"{where} ({LEVEL_NAMES[level(module)]} imports {LEVEL_NAMES[level(target)]})")
    return out


def test_no_module_imports_against_the_role_order() -> None:
    bad = upward_imports()
    assert not bad, "imports against the role order:\n  " + "\n  ".join(bad)


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in {t for t, _, _ in GRAPH[v]}:
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

    for v in GRAPH:
        if v not in index:
            connect(v)
    return out


def test_no_import_cycle_between_modules() -> None:
    found = cycles()
    assert not found, "import cycles:\n  " + "\n  ".join(" <-> ".join(c) for c in found)


def test_the_cycle_and_order_checks_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted cycle and a planted upward import are reported."""
    monkeypatch.setitem(GRAPH, "compare.files", [*GRAPH["compare.files"], ("compare.harness", 1, False)])
    monkeypatch.setitem(GRAPH, "compare.harness", [*GRAPH["compare.harness"], ("compare.files", 1, False)])
    monkeypatch.setitem(GRAPH, "dlfs_gradcheck.core", [*GRAPH["dlfs_gradcheck.core"], ("compare.cli", 1, True)])
    assert any({"compare.harness", "compare.files"} <= set(c) for c in cycles())
    assert any("compare.files imports compare.harness" in line for line in upward_imports())
    assert any("dlfs_gradcheck.core imports compare.cli" in line for line in upward_imports())


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


# Exceptions without a stated reason (none: every module over the limits states its reason at its
# top). The test fails on any other violation, and on an entry here that no longer violates.
KNOWN_OVER: set[str] = set()


def size_violations() -> list[str]:
    """``path`` (a long module) or ``path: name()`` (a long function) for each one without a stated reason."""
    out = []
    for path in MODULES.values():
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        if REASON.search(ast.get_docstring(tree) or ""):
            continue  # the module says why it is long
        n_lines = source.count("\n")
        if n_lines > MAX_MODULE_LINES:
            out.append(f"{path.relative_to(REPO)}")
        out += [f"{path.relative_to(REPO)}: {name}()" for name, _ in long_functions(tree)]
    return out


def test_long_modules_and_functions_say_why() -> None:
    """Modules over ~300 lines and functions over ~60 need a "Longer than ..." sentence in the module docstring."""
    found = size_violations()
    new = sorted(set(found) - KNOWN_OVER)
    assert not new, (
        f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function, "
        'with no "Longer than ..." reason in the module docstring:\n  ' + "\n  ".join(new)
    )
    stale = sorted(KNOWN_OVER - set(found))
    assert not stale, "no longer over the limits (remove from KNOWN_OVER):\n  " + "\n  ".join(stale)


def test_size_check_counts_function_lines() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    tree = ast.parse(f"def short():\n    pass\n\n\ndef long():\n{body}\n")
    assert long_functions(tree) == [("long", MAX_FUNCTION_LINES + 1)]


# -- the README's schema -------------------------------------------------------------------------------------


def readme_schema() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- schema:begin -->\n```\n(.*?)```\n<!-- schema:end -->", readme, re.DOTALL)
    assert match, "README.md has no schema block between <!-- schema:begin --> and <!-- schema:end -->"
    return match.group(1)


def test_readme_schema_is_the_generated_one() -> None:
    assert readme_schema() == schema_text(), (
        "README.md's JSON schema differs from the report model: paste the output of "
        "`python -m compare.report schema` between its schema markers"
    )


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main(["schema"]) == 0
    assert capsys.readouterr().out == schema_text()
    assert "\nGradientRow\n" in schema_text() and "  max_rel: float  # " in schema_text()
