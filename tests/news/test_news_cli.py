"""``stockvision news import|list|sentiment`` end to end on small files (SQLite, local MLflow)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from stockvision.cli.main import app

runner = CliRunner()


def _jsonl(path: Path) -> Path:
    rows = [
        {"id": "1", "published": "2025-10-01T03:00:00+00:00", "source": "S",
         "title": "Cổ phiếu HPG tăng trần, Hòa Phát lãi kỷ lục", "summary": "", "link": "https://a.vn/1"},
        {"id": "2", "published": "2025-10-02T03:00:00+00:00", "source": "S",
         "title": "NVL chậm thanh toán trái phiếu", "summary": "", "link": "https://a.vn/2"},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{bad\n")
    return path


def test_import_twice_then_list(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "n.jsonl")
    first = runner.invoke(app, ["news", "import", str(path), "--no-score", "--json"])
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    assert (doc["inserted"], doc["rejected"], doc["tagged_items"]) == (2, 1, 2)
    again = json.loads(
        runner.invoke(app, ["news", "ingest", str(path), "--no-score", "--json"]).stdout
    )
    assert again["inserted"] == 0 and again["already_stored"] == 2
    listed = runner.invoke(app, ["news", "list", "hpg"])
    assert listed.exit_code == 0 and "HPG tăng trần" in listed.stdout
    assert "2025-10-01 03:00 UTC" in listed.stdout and "tone not scored" in listed.stdout
    doc = json.loads(runner.invoke(app, ["news", "list", "NVL", "--json"]).stdout)
    assert [i["title"] for i in doc["items"]] == ["NVL chậm thanh toán trái phiếu"]
    bad = runner.invoke(app, ["news", "import"])
    assert bad.exit_code != 0


@pytest.mark.integration
def test_train_sentiment_then_score_stored_headlines(tmp_path: Path, sentiment_file) -> None:
    frame = pd.read_csv(sentiment_file).groupby("label").head(25)
    labelled = tmp_path / "labelled.csv"
    frame.to_csv(labelled, index=False)
    trained = runner.invoke(
        app, ["news", "sentiment", "train", str(labelled), "--models", "tfidf_char", "--folds", "3"]
    )
    assert trained.exit_code == 0, trained.output
    assert "macro-F1" in trained.stdout and "tfidf_char" in trained.stdout
    path = _jsonl(tmp_path / "n.jsonl")
    runner.invoke(app, ["news", "import", str(path), "--no-score"])
    scored = runner.invoke(app, ["news", "sentiment", "score"])
    assert scored.exit_code == 0 and "Scored 2 headlines" in scored.output
    doc = json.loads(runner.invoke(app, ["news", "list", "HPG", "--json"]).stdout)
    item = doc["items"][0]
    assert item["tone"] in ("negative", "neutral", "positive")
    assert item["p_negative"] + item["p_neutral"] + item["p_positive"] == pytest.approx(1.0)


def test_ablation_command_says_why_it_cannot_run(tmp_path: Path) -> None:
    runner.invoke(app, ["news", "import", str(_jsonl(tmp_path / "n.jsonl")), "--no-score"])
    r = runner.invoke(app, ["news", "ablation"])
    assert r.exit_code == 0, r.output
    assert "No ablation" in r.output and "no labels or no news" in r.output


def test_import_publishes_new_items_on_the_stream(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "n.jsonl")
    r = runner.invoke(app, ["news", "import", str(path), "--no-score", "--publish", "memory://",
                            "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["published"] == 2  # one message per (item, symbol)
    again = runner.invoke(app, ["news", "import", str(path), "--no-score", "--publish", "memory://",
                                "--json"])  # fmt: skip
    assert json.loads(again.stdout)["published"] == 0  # nothing new, nothing published
