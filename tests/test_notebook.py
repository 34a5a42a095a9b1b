"""The learner's notebook ``docs/learn-backprop.ipynb``: it runs top to bottom, and its outputs are not committed.

Run: ``python -m pytest tests/test_notebook.py``. nbclient executes every cell in a fresh
python3 kernel (ipykernel) started in ``docs/``, as a learner's Jupyter would; a cell that raises
(the notebook's own asserts included: backprop against the numerical gradient, each node's local
gradient against central differences, the ``--impl`` check's exit status) fails the test. Takes
about half a minute on 2 cores; the cell timeout is generous for a busy machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "learn-backprop.ipynb"
CELL_TIMEOUT_S = 600  # the slowest cell takes a few seconds here; a busy machine must not fail it


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the notebook has no code cells"
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"cells {dirty} hold outputs: clear them before committing (the test runs the notebook)"


def test_notebook_runs_top_to_bottom(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError naming the cell when one fails
    text = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    # the cells printed what they compute: the comparison, every node's check, the sweep and the --impl verdict
    assert "largest difference" in text and "Softmax-with-Loss  dL/dY" in text and "Affine 1  dW1" in text
    assert "Best h measured" in text and "exit status 0" in text
