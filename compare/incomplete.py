"""The error of a run that could not complete (exit status 3), apart from the command line that reports it.

The engine raises it (training diverged) and the distributed launcher too (a job that failed); the
command line (:mod:`compare.cli`) turns it into exit status 3 and one line. Standard library only.
"""


class RunIncomplete(RuntimeError):
    """A run that could not complete, e.g. training diverged (exit status 3)."""
