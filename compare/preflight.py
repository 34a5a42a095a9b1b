"""Checks of a command's outputs before any work: each writable, no two on one file, none on an input.

Refused before any work: an output that cannot be written (:func:`check_writable`), two outputs
on one file or one stream, an output that is one of the run's inputs (the ``--impl`` file, the
saved report shown, the MNIST files read; symbolic and hard links followed), a Python file, and
in an output folder a file that the folder's manifest does not list as written by a run and
unchanged since (:mod:`compare.manifest`).

Usage::

    check_outputs([Output("--json", "r.json"), Output("--csv", "tables", ".csv", ("gradients.csv",))],
                  [Input("the --impl file", "mine.py")])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compare.manifest import MANIFEST, digest_of, is_manifest, read_manifest
from compare.pathsafety import OutputError, check_file, final_path, name_max, probe_folder, shown
from compare.streams import check_stream, stream_fd, stream_name


def check_streams(outputs: Sequence[Output]) -> None:
    """Refuse two outputs on one stream, and a directory output (``--csv -``) on any."""
    seen: dict[int, Output] = {}
    for o in outputs:
        fd = stream_fd(o.path)
        if fd is None:
            continue
        if o.suffix is not None:
            raise OutputError(f"{o.option} writes several files into a directory, not to {stream_name(fd)}")
        if fd in seen:
            raise OutputError(f"{seen[fd].option} and {o.option} would both write to {stream_name(fd)}; choose one")
        check_stream(fd, shown(o.path))
        seen[fd] = o


def check_writable(path: str | os.PathLike[str], *, directory: bool = False) -> None:
    """Fail now (before any work) if ``path`` cannot be written; nothing is created.

    A file's directory must exist. An output directory (``--csv``, ``--plot``) may be new,
    but then its parent must exist; it is created only when the results are written.
    """
    fd = stream_fd(path)
    if fd is not None:  # a standard stream: written through its descriptor
        if directory:
            raise OutputError(f"cannot write into {shown(path)}: a directory is needed, not {stream_name(fd)}")
        check_stream(fd, shown(path))
        return
    target = final_path(path)
    shown_as = shown(path)
    try:
        if directory:
            if os.path.islink(path) and not os.path.exists(path):  # mkdir cannot make it: refused now, not after
                raise OutputError(
                    f"cannot write into {shown_as}: a symbolic link to {os.readlink(path)}, which does not exist"
                )
            if target.exists() and not target.is_dir():
                raise OutputError(f"cannot write into {shown_as}: it exists and is not a directory")
            if len(os.fsencode(target.name)) > name_max(target.parent):
                raise OutputError(f"cannot write into {shown_as}: name too long")
            probe_folder(target if target.is_dir() else target.parent, shown_as)
        else:
            text = os.fspath(path)
            if text.endswith((os.sep, "/")) or os.path.basename(text) in (".", ".."):  # "x/." is the folder x
                raise OutputError(f"cannot write {shown_as}: it names a folder; give a file's path")
            check_file(target, shown_as)
            probe_folder(target.parent, shown_as)
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(f"cannot write {shown_as}: {e.strerror or e}") from None


PYTHON_SUFFIXES = (".py", ".pyw", ".pyc", ".pth")  # an output there could be imported (or run) as code


@dataclass(frozen=True)
class Output:
    option: str  # the command-line option, for messages: "--json"
    path: str | os.PathLike[str] | None  # None: the option was not given
    suffix: str | None = None  # a directory output: the suffix of the files written into it (".csv")
    names: tuple[str, ...] = ()  # a directory output: every file it will hold (its manifest is added)

    def files(self) -> list[tuple[str, Path]]:
        """(how a message names it, the file written: links followed) of each file this output writes."""
        assert self.path is not None
        if self.suffix is None:
            return [(f"{self.option} {shown(self.path)}", final_path(self.path))]
        inside = (*self.names, MANIFEST)
        return [
            (f"{shown(Path(self.path) / n)} (in {self.option} {shown(self.path)})", final_path(Path(self.path) / n))
            for n in inside
        ]


@dataclass(frozen=True)
class Input:
    what: str  # for messages: "the --impl file", "RUN.json"
    path: str | os.PathLike[str]  # a file the command reads


def check_outputs(outputs: Sequence[Output], inputs: Sequence[Input] = ()) -> None:
    """Refuse, before any work, an output that cannot be written, two outputs on one file, or one on an input.

    Every output is checked with :func:`check_writable`, and so is every file a directory output
    will hold (a folder where ``gradients.csv`` should go is refused now, not after the run); a
    file there that a run did not write, or that was edited since, is refused too (it is the
    user's: only what the folder's manifest lists as written, unchanged, is replaced). A
    file output conflicts with another file output at the same path (symbolic links followed),
    with a directory output at its own path, and with a directory output it lies in when it has
    that output's suffix or one of its names (``--json D/gradients.csv --csv D``). No file any
    output writes may be one of ``inputs`` (symbolic links followed, hard links compared by inode):
    the run would replace what it reads, e.g. ``--json mine.py`` with ``--impl mine.py:Net``.
    """
    given = [o for o in outputs if o.path is not None]
    check_streams(given)
    given = [o for o in given if stream_fd(o.path) is None]
    for o in given:
        check_writable(o.path, directory=o.suffix is not None)
        if o.suffix is not None:
            for label, target in o.files():
                _check_inside(target, label)
    finals = [(o, final_path(o.path)) for o in given]
    for i, (a, pa) in enumerate(finals):
        for b, pb in finals[i + 1 :]:
            clash = _clash(a, pa, b, pb) or _clash(b, pb, a, pa)
            if clash:
                raise OutputError(f"{a.option} and {b.option} would both write {shown(clash)}; choose different paths")
    for o in given:
        for label, target in o.files():
            for source in inputs:
                if _same_file(target, source.path):
                    raise OutputError(
                        f"{label} would overwrite {source.what} {shown(source.path)}, which this run reads; "
                        "choose another path"
                    )
    for o in given:
        for label, target in o.files():  # after the inputs: one that is an input is named as such
            if target.suffix.lower() in PYTHON_SUFFIXES:
                raise OutputError(
                    f"{label} names a Python file: Python would import the report as code (a package's "
                    "__init__.py, a module beside yours); choose a name with another suffix"
                )
        if o.suffix is not None:
            _check_owned(o)


def _check_owned(o: Output) -> None:
    """A directory output replaces only files a run wrote there, unchanged since (its manifest says which)."""
    folder = Path(o.path)
    manifest = folder / MANIFEST
    if manifest.is_symlink() or (os.path.lexists(manifest) and not is_manifest(manifest)):
        what = "a symbolic link" if manifest.is_symlink() else "not a manifest a run wrote"
        raise OutputError(
            f"{o.option} {shown(folder)} would replace {shown(manifest)}, which is {what}; move it or choose "
            "another folder"
        )
    written = read_manifest(folder)
    for name in o.names:
        target = folder / name
        if not os.path.lexists(target):
            continue
        if name not in written:
            why = f"was not written by a run (the folder's {MANIFEST} does not list it)"
        elif digest_of(target) != written[name]:
            why = "was changed since a run wrote it"
        else:
            continue
        raise OutputError(
            f"{o.option} {shown(folder)} would replace {shown(target)}, which {why}; move it or choose another folder"
        )


def _check_inside(target: Path, label: str) -> None:
    try:
        check_file(target, label)
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(f"cannot write {label}: {e.strerror or e}") from None


def _clash(a: Output, pa: Path, b: Output, pb: Path) -> Path | None:
    if a.suffix is None and b.suffix is None and (pa == pb or _same_file(pa, pb)):  # hard links: one file
        return pa
    if a.suffix is None and b.suffix is not None and pa.parent == pb:
        if pa.suffix == b.suffix or pa.name in (*b.names, MANIFEST):
            return pa
    return None


def _same_file(target: Path, source: str | os.PathLike[str]) -> bool:
    """Whether writing ``target`` (links already followed) would change the file ``source``."""
    if not os.fspath(source):
        return False
    if target == Path(os.path.realpath(source)):
        return True
    try:
        return os.path.samefile(target, source)  # a hard link, or the same file through a bind mount
    except OSError:  # one of them does not exist (yet)
        return False
