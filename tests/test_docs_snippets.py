"""Every Python and shell snippet of README.md and docs/ runs; every relative link leads somewhere.

What a fenced block is, its language tag says (a fence without one fails
:func:`test_every_block_says_what_it_is`):

- ``python``: run by this interpreter as a script. A block that defines ``test_*`` functions is a
  test file, as a reader uses it: pytest runs it, with the gradient checker's plugin.
- ``sh``, ``bash``, ``shell``: run by ``bash -e -o pipefail``, every command as written.
- ``console``: a transcript: its ``$ `` lines are run as above, the other lines are output.
- anything else (``text`` for output and synopses, ``yaml``, ``json``, ``toml``, ``ini``): not run.

Where a block runs: in a fresh copy of the checkout (no ``.git``), which is its working directory
and its ``PYTHONPATH``; ``python``, ``python3`` and the project's console scripts (``dlfs-compare``,
...) on ``PATH`` run this interpreter on that copy. So a block writes where it likes, never into the
checkout, and a command means the code of this tree, not an installed copy.

Markers: HTML comments on the lines right above a fence, ``<!-- snippet: KEY: VALUE -->``, one per
comment:

- ``skip: REASON``: the block is not run. REASON says why and what runs it instead (installs,
  downloads, several machines); :func:`test_skipped_blocks_are_few_and_say_why` counts them.
- ``append: OPTIONS``: OPTIONS go right after ``python -m compare.run`` (or ``dlfs-compare``) on each
  of the block's lines that run it: a full run shortened, the block keeping the reader's command.
  The block's own options come later on the line, so they win.
- ``status: N``: the block is expected to end with exit status N (default 0): a planted bug exits 1.
- ``expect: TEXT``: TEXT must appear in what the block prints (stdout or stderr).
- ``saved-run: NAME ...``: a saved report (``compare.run --json`` of a short run that timed) is put
  in the working directory under each NAME before the block runs.

A page written by a generator (``docs/why-backprop*.md``: ``python -m compare.teach``) cannot carry
markers; :data:`GENERATED` holds theirs.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from children import CEILING_S

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]

PYTHON = {"python", "py"}
SHELL = {"sh", "bash", "shell"}
CONSOLE = {"console"}
NOT_RUN = {"text", "yaml", "json", "toml", "ini"}

MAX_SKIPS = 8  # blocks that cannot run here (installs, downloads, several machines); each says why
MAX_README_LINES = 300

# Markers of blocks in generated pages, by file name pattern (the generator rewrites the page).
GENERATED = {"why-backprop*.md": {"saved-run": "run.json"}}

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
MARKER = re.compile(r"^<!-- snippet: (?P<key>[a-z-]+): (?P<value>.*?) -->$")
KEYS = {"skip", "append", "status", "expect", "saved-run"}
RUNS_COMPARE = re.compile(r"(?<![\w.-])(python3? -m compare\.run|dlfs-compare)(?![\w.-])")


@dataclass
class Block:
    doc: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def blocks_of(doc: Path) -> list[Block]:
    """The fenced blocks of ``doc``, with the markers on the lines right above each."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], fence)), len(lines))
        code = "\n".join(_dedent(line, indent) for line in lines[i + 1 : end])
        block = Block(doc, i + 1, opening["info"].strip().split(" ")[0].lower(), code + "\n")
        block.markers = markers_above(lines, i)
        for pattern, given in GENERATED.items():
            if doc.match(pattern):
                block.markers = {**given, **block.markers}
        found.append(block)
        i = end + 1
    return found


def _dedent(line: str, indent: int) -> str:
    """``line`` without the fence's indentation (a fence inside a list item)."""
    return line[min(indent, len(line) - len(line.lstrip(" "))) :]


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def markers_above(lines: list[str], i: int) -> dict[str, str]:
    markers: dict[str, str] = {}
    j = i - 1
    while j >= 0 and lines[j].startswith("<!-- snippet:"):
        match = MARKER.match(lines[j].strip())
        assert match, f"line {j + 1}: a snippet marker is <!-- snippet: KEY: VALUE -->, not {lines[j]!r}"
        assert match["key"] in KEYS, f"line {j + 1}: unknown snippet marker {match['key']!r} (known: {sorted(KEYS)})"
        markers[match["key"]] = match["value"]
        j -= 1
    return markers


ALL_BLOCKS = [block for doc in DOCUMENTS for block in blocks_of(doc)]
RUNNABLE = [b for b in ALL_BLOCKS if b.lang in PYTHON | SHELL | CONSOLE]


def block_param(block: Block) -> object:
    marks = [pytest.mark.skip(reason=block.markers["skip"])] if "skip" in block.markers else []
    return pytest.param(block, id=block.where, marks=marks)


# -- the work folder a block runs in ------------------------------------------------------------------------

IGNORED = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".venv", ".ci-venv", ".pytest_cache", ".ruff_cache")


def console_scripts() -> dict[str, str]:
    """``[project.scripts]`` of pyproject.toml, read by hand (tomllib is Python 3.11+; the project runs on 3.10)."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    table = text.split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    return dict(re.findall(r'^([\w-]+) = "([\w.]+:\w+)"', table, flags=re.MULTILINE))


def tool_folder(where: Path) -> Path:
    """A folder for the front of PATH: ``python``, ``python3`` and the console scripts, on this interpreter."""
    bin_dir = where / "bin"
    bin_dir.mkdir()
    for name in ("python", "python3"):  # a script, not a link: a venv's python finds its venv from its own path
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
        script.chmod(0o755)
    for name, target in console_scripts().items():
        module, _, function = target.partition(":")
        script = bin_dir / name
        body = f"import sys\nfrom {module} import {function}\nsys.exit({function}())\n"
        script.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
        script.chmod(0o755)
    return bin_dir


@pytest.fixture(scope="session")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved report of a short run with gradients and timing, for blocks that read one (made once per worker)."""
    path = tmp_path_factory.mktemp("saved") / "run.json"
    argv = ["-m", "compare.run", "--only", "gradients,timing", "--no-jax", "--no-progress", "--quiet"]
    done = subprocess.run(
        [sys.executable, *argv, "--json", str(path)], cwd=REPO, capture_output=True, text=True, timeout=CEILING_S
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return path


def work_folder(block: Block, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, dict[str, str]]:
    """A copy of the checkout to run ``block`` in, and the environment to run it with."""
    work = tmp_path / "checkout"
    shutil.copytree(REPO, work, ignore=IGNORED, symlinks=True)
    for name in block.markers.get("saved-run", "").split():
        shutil.copyfile(request.getfixturevalue("saved_run"), work / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    # then this interpreter's own folder: the tools installed beside it (pybabel)
    env["PATH"] = os.pathsep.join([str(tool_folder(tmp_path)), str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = str(work)
    env["DLFS_CACHE_DIR"] = str(tmp_path / "cache")  # never the reader's cache
    return work, env


# -- what runs --------------------------------------------------------------------------------------------


def shell_script(block: Block) -> str:
    code = block.code
    if block.lang in CONSOLE:
        code = "".join(line[2:] + "\n" for line in code.splitlines() if line.startswith("$ "))
        assert code, f"{block.where}: a console block without a `$ ` line"
    options = block.markers.get("append")
    if options:
        code, count = RUNS_COMPARE.subn(lambda m: f"{m.group(0)} {options}", code)
        assert count, f"{block.where}: `append` given, but no line runs python -m compare.run"
    return code


def defines_tests(code: str) -> bool:
    return any(isinstance(node, ast.FunctionDef) and node.name.startswith("test_") for node in ast.parse(code).body)


def command_for(block: Block, work: Path) -> list[str]:
    if block.lang in PYTHON:
        if defines_tests(block.code):
            folder = work / "snippet_tests"
            folder.mkdir()
            (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # not the checkout's settings
            (folder / "test_snippet.py").write_text(block.code, encoding="utf-8")
            plugin = ["-p", "dlfs_gradcheck.pytest_plugin"]
            return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin, str(folder)]
        (work / "snippet.py").write_text(block.code, encoding="utf-8")
        return [sys.executable, "snippet.py"]
    (work / "snippet.sh").write_text(shell_script(block), encoding="utf-8")
    return ["bash", "-e", "-o", "pipefail", "snippet.sh"]


@pytest.mark.parametrize("block", [block_param(b) for b in RUNNABLE])
def test_snippet_runs(block: Block, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    work, env = work_folder(block, tmp_path, request)
    command = command_for(block, work)
    done = subprocess.run(
        command, cwd=work, env=env, capture_output=True, text=True, timeout=CEILING_S, stdin=subprocess.DEVNULL
    )
    said = done.stdout + done.stderr
    expected = int(block.markers.get("status", "0"))
    assert done.returncode == expected, (
        f"{block.where}: the {block.lang} block exited {done.returncode}, not {expected}\n"
        f"$ {shlex.join(command)}\n{said[-4000:]}"
    )
    if "expect" in block.markers:
        expect = block.markers["expect"]
        assert expect in said, f"{block.where}: {expect!r} not printed\n{said[-4000:]}"


# -- what the blocks and markers say -------------------------------------------------------------------------


def test_the_documents_hold_runnable_blocks() -> None:
    assert len(RUNNABLE) >= 20, [b.where for b in RUNNABLE]  # the scan found them


def test_every_block_says_what_it_is() -> None:
    known = PYTHON | SHELL | CONSOLE | NOT_RUN
    unknown = [f"{b.where}: {b.lang or 'no language tag'}" for b in ALL_BLOCKS if b.lang not in known]
    assert not unknown, "tag each fence: python, sh, console (run); text, yaml, ... (not run):\n" + "\n".join(unknown)


def test_markers_sit_on_runnable_blocks() -> None:
    misplaced = [b.where for b in ALL_BLOCKS if b.markers and b not in RUNNABLE]
    assert not misplaced, misplaced


def test_skipped_blocks_are_few_and_say_why() -> None:
    skipped = [(b.where, b.markers["skip"]) for b in RUNNABLE if "skip" in b.markers]
    assert all(len(reason.split()) >= 4 for _, reason in skipped), skipped
    assert len(skipped) <= MAX_SKIPS, "\n".join(f"{where}: {reason}" for where, reason in skipped)


def test_a_broken_snippet_fails(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    doc = REPO / "docs" / "data.md"
    broken = [
        Block(doc, 1, "python", "from compare.mnist import load_mnist\n"),
        Block(doc, 2, "sh", "python -m compare.no_such_command --help\n"),
        Block(doc, 3, "sh", "false\necho still here\n"),
        Block(doc, 4, "python", "def test_fails():\n    assert False\n"),
    ]
    for i, block in enumerate(broken):
        with pytest.raises(AssertionError, match=r"exited [1-9]"):
            test_snippet_runs(block, tmp_path / str(i), request)


def test_append_goes_after_the_command_on_each_line() -> None:
    code = "python -m compare.run --seed 1 | head\ndlfs-compare\npython -m compare.runx\n"
    block = Block(REPO / "README.md", 1, "sh", code, {"append": "--iters 5"})
    expected = "python -m compare.run --iters 5 --seed 1 | head\ndlfs-compare --iters 5\npython -m compare.runx\n"
    assert shell_script(block) == expected


def test_readme_is_short() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move details to docs/ (at most {MAX_README_LINES})"


# -- links ------------------------------------------------------------------------------------------------

LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


def outside_blocks(doc: Path) -> list[str]:
    """The lines of ``doc`` outside its fenced blocks."""
    keep: list[str] = []
    fence = None
    for line in doc.read_text(encoding="utf-8").splitlines():
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening["fence"]
        elif fence is not None and _closes(line, fence):
            fence = None
        elif fence is None:
            keep.append(line)
    return keep


def prose(doc: Path) -> str:
    """``doc`` without its fenced blocks and inline code."""
    return "\n".join(re.sub(r"`[^`]*`", "", line) for line in outside_blocks(doc))


def anchors(doc: Path) -> set[str]:
    """GitHub's anchors for the headings of ``doc``."""
    seen: dict[str, int] = {}
    found = set()
    for line in outside_blocks(doc):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*$", line.replace("`", ""))
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading[1].strip().lower()).replace(" ", "-")
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda d: str(d.relative_to(REPO)))
def test_relative_links_lead_somewhere(doc: Path) -> None:
    broken = []
    for match in LINK.finditer(prose(doc)):
        target = match["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with that anchor in {linked.name}")
    assert not broken, f"{doc.relative_to(REPO)}:\n" + "\n".join(broken)
