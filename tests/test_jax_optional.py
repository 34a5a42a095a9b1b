"""JAX stays optional: without it everything else imports, and asking for it says how to install it.

Run: ``python -m pytest tests/test_jax_optional.py`` (runs with or without jax).
Each test runs a fresh interpreter, where ``sys.modules["jax"] = None`` makes every
``import jax`` fail as if jax were not installed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HIDE_JAX = "import sys; sys.modules['jax'] = None; sys.modules['jaxlib'] = None\n"


def run_python(code: str, *, hide_jax: bool) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter from the project root; fails the test on a non-zero exit."""
    source = (HIDE_JAX if hide_jax else "") + textwrap.dedent(code)
    proc = subprocess.run([sys.executable, "-c", source], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_without_jax_impl_jax_raises_an_import_error_with_the_install_hint() -> None:
    run_python(
        """
        try:
            import impl_jax
        except ImportError as exc:
            assert 'pip install ".[jax]"' in str(exc), str(exc)
        else:
            raise SystemExit("impl_jax imported without jax")
        """,
        hide_jax=True,
    )


def test_without_jax_the_runner_module_and_the_checker_import_and_say_so() -> None:
    run_python(
        """
        import numpy as np
        from compare.jax_runner import jax_available
        from compare.gradcheck import jax_problem, numpy_net_problem
        assert jax_available() is False
        try:
            jax_problem(lambda p: p["w"].sum(), {"w": np.ones(3)})
        except ImportError as exc:
            assert 'pip install ".[jax]"' in str(exc), str(exc)
        else:
            raise SystemExit("jax_problem ran without jax")
        """,
        hide_jax=True,
    )


def test_importing_the_checker_and_the_runner_module_does_not_import_jax() -> None:
    proc = run_python(
        """
        import sys
        import compare.gradcheck, compare.jax_runner
        print(sorted(m for m in sys.modules if m == "jax" or m.startswith("jax.")))
        """,
        hide_jax=False,
    )
    assert proc.stdout.strip() == "[]"
