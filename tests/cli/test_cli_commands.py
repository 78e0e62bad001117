"""The ``stockvision`` command line: help everywhere, one JSON document for --json, readable errors.

Commands run in-process through the console-script entry point ``stockvision.cli.main.main`` (the one
that turns errors into messages), on a temp data directory.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer.main
from typer.testing import CliRunner

from stockvision.cli.main import app, main


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run ``stockvision ARGS`` through ``main``; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["stockvision", *args])
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps long messages at the terminal width
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]

    def walk(cmd, prefix: list[str]) -> None:
        for name, sub in (getattr(cmd, "commands", None) or {}).items():  # groups have commands
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "stockvision")
def test_every_command_has_help(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert len(result.output.strip().splitlines()) > 3


def test_the_command_tree_is_complete():
    names = {" ".join(p) for p in _command_paths()}
    expected = {
        "ingest",
        "data status",
        "evaluate",
        "models list",
        "models show",
        "models promote",
        "models rollback",
        "pipeline run",
        "monitor",
        "predict",
        "serve",
    }
    assert expected <= names


def test_ingest_the_vn30_index_csv(monkeypatch, capsys, vn30_index_path):
    """Every trading day of the file is stored (a file named explicitly is not cut at history_start)."""
    with vn30_index_path.open(encoding="utf-8-sig", newline="") as fh:
        n_rows = sum(1 for _ in csv.reader(fh)) - 1  # 2,542 days, 2009-01-05 .. 2019-03-18
    code, out, err = _cli(
        monkeypatch, capsys, "ingest", "--source", "csv", str(vn30_index_path), "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["rows_parsed"] == n_rows
    assert doc["inserted"] == n_rows, f"rejected: {doc['rejected']} (missing volume of 2009-2012?)"
    assert doc["symbols"] == ["VN30"] and doc["n_parse_errors"] == 0
    assert doc["latest_date"] == "2019-03-18"
    # idempotent: a second import changes nothing
    code, out, err = _cli(
        monkeypatch, capsys, "ingest", "--source", "csv", str(vn30_index_path), "--json"
    )
    again = json.loads(out)
    assert again["inserted"] == 0 and again["unchanged"] == n_rows
    code, out, err = _cli(monkeypatch, capsys, "data", "status", "--json")
    status = json.loads(out)["symbols"][0]
    assert (status["rows"], status["first_date"]) == (n_rows, "2009-01-05")
    code, out, err = _cli(monkeypatch, capsys, "ingest", "--source", "csv", str(vn30_index_path))
    assert code == 0 and f"{n_rows:,} rows parsed" in " ".join(err.split())


def test_data_status_json_lists_rows_dates_and_corporate_actions(
    monkeypatch, capsys, vn30_daily_path, tmp_path
):
    raw = pd.read_csv(vn30_daily_path)
    wanted = ["VNM", "FPT", "HPG", "MWG"]
    subset = raw[raw["ticket"].isin(wanted)]
    csv = tmp_path / "four.csv"
    subset.to_csv(csv, index=False)
    code, _, err = _cli(monkeypatch, capsys, "ingest", str(csv), "--json")
    assert code == 0, err
    code, out, err = _cli(monkeypatch, capsys, "data", "status", "--json")
    assert code == 0, err
    doc = json.loads(out)
    rows = {s["symbol"]: s for s in doc["symbols"]}
    assert sorted(rows) == sorted(wanted) and doc["n_symbols"] == 4
    for sym in wanted:
        dates = pd.to_datetime(subset.loc[subset["ticket"] == sym, "date"])
        assert rows[sym]["rows"] == len(dates)
        assert rows[sym]["first_date"] == str(dates.min().date())
        assert rows[sym]["last_date"] == str(dates.max().date())
    actions = [a for s in doc["symbols"] for a in s["corporate_actions"]]
    assert actions, "the VN30 data holds stock dividends/splits in 2016-2019"
    for action in actions:
        pd.Timestamp(action["date"])
        assert 0 < action["factor"] < 1  # back-adjustment: earlier prices scaled down


def test_models_list_json_on_an_empty_store_is_one_document(monkeypatch, capsys):
    code, out, err = _cli(monkeypatch, capsys, "models", "list", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "models": {"price_target_model": [], "pattern_model": []},
        "promotion_log": [],
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "promote", "price", "7"], "price_target_model has no version 7"),
        (["models", "show", "pattern"], "No champion for pattern yet"),
        (["models", "rollback", "price"], "No earlier champion"),
        (["ingest", "--source", "csv", "/nonexistent/prices.csv"], "/nonexistent/prices.csv"),
        (["features", "build"], "no daily prices"),
        (["models", "show", "volume"], "Unknown model 'volume'"),
    ],
    ids=[
        "unknown-version",
        "no-champion",
        "nothing-to-roll-back",
        "missing-csv",
        "empty-store",
        "unknown-model",
    ],
)
def test_user_mistakes_give_a_readable_error_without_traceback(monkeypatch, capsys, args, message):
    code, _out, err = _cli(monkeypatch, capsys, *args)
    text = " ".join(err.split())
    assert code == 1
    assert "Error:" in text and message.lower() in text.lower(), text
    assert "Traceback" not in err and "Unexpected error" not in text


def test_verbose_shows_the_traceback(monkeypatch, capsys):
    code, _out, err = _cli(monkeypatch, capsys, "--verbose", "models", "promote", "price", "7")
    assert code == 1
    assert "Traceback" in err and "has no version 7" in " ".join(err.split())


def test_pipeline_run_help_names_every_step():
    result = CliRunner().invoke(app, ["pipeline", "run", "--help"])
    text = " ".join(result.output.split())
    from stockvision.pipeline.flow import STEP_NAMES

    for step in STEP_NAMES:
        assert step.replace("batch_predict", "batch predict") in text


def test_cli_entry_point_is_installed():
    root = Path(__file__).resolve().parents[2]
    script = Path(sys.executable).parent / "stockvision"
    assert script.exists() or (root / ".venv" / "bin" / "stockvision").exists()


def test_json_errors_are_one_json_document_on_stdout_with_a_non_zero_exit(monkeypatch, capsys):
    import json

    code, out, _err = _cli(monkeypatch, capsys, "models", "show", "volume", "--json")
    assert code == 1
    body = json.loads(out)
    assert body["error"] and body["message"].endswith(".") and body["message"][0].isupper()
    assert "Error" not in body["message"].split()[0]  # a sentence, not an exception name
    code, out, _err = _cli(monkeypatch, capsys, "predict", "--bogus", "--json")
    assert code == 2 and json.loads(out)["error"] == "usage"


def test_a_failed_step_names_its_cause_without_a_class_name(tmp_path):
    from stockvision.errors import NoDataError
    from stockvision.pipeline.runner import PipelineRunner, Step, StepFailedError

    def boom(ctx):
        raise NoDataError(
            "Only 0 labelled weeks.", "Import more history.", message_vi="Ít dữ liệu."
        )

    with pytest.raises(StepFailedError) as info:
        PipelineRunner([Step("train", boom)], tmp_path, sleep=lambda s: None).run()
    exc = info.value
    assert exc.user_error and exc.details["cause"] == "no_data_in_store"
    assert "Ít dữ liệu" in exc.message_vi and "NoDataError" not in str(exc)
