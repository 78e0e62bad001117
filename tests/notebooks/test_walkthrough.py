"""notebooks/pipeline_walkthrough.ipynb runs headless from top to bottom (nbclient, the project's
kernel) on the real VN30 data (or the labelled simulated market without it), and is kept in git
with its outputs stripped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = pytest.mark.integration

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "pipeline_walkthrough.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_notebook_runs_headless(tmp_path, monkeypatch):
    monkeypatch.setenv("SV_NOTEBOOK_DATA_DIR", str(tmp_path / "home"))
    monkeypatch.setenv("SV_EVAL_MAX_FOLDS", "2")  # the same steps, fewer folds
    src = str(NOTEBOOK.parents[1] / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )  # fmt: skip
    client.execute()
    text = "\n".join(
        out.get("text", "") or str(out.get("data", {}).get("text/plain", ""))
        for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )  # fmt: skip
    assert "weekly rows" in text and "report:" in text
    assert "price" in text and "pattern" in text and "version" in text
    assert (tmp_path / "home").exists()
