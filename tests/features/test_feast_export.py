"""The exported Feast repository works in Feast itself (.feast-venv, scripts/setup_ops.sh feast; Feast
pins pandas<3, so it runs as a subprocess): ``feast apply``, ``materialize`` into the SQLite online
store, ``get_online_features`` returns each symbol's latest week, and ``get_historical_features``
performs the point-in-time join we expect (a query one minute before a session's close sees the
previous week; beyond the TTL it sees nothing). Values are compared with the frame we exported."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stockvision.data.sources.synthetic import generate_market
from stockvision.features import FEATURES, compute_features
from stockvision.features.feast_export import FEATURE_VIEW, TTL_DAYS, feast_frame, write_feast_repo
from stockvision.market.corporate_actions import adjust

ROOT = Path(__file__).resolve().parents[2]
FEAST_BIN = ROOT / ".feast-venv" / "bin"

PROBE = r"""
import json, sys
import pandas as pd
from feast import FeatureStore

request = json.load(sys.stdin)
store = FeatureStore(repo_path=".")
store.materialize(pd.Timestamp(request["start"]), pd.Timestamp(request["end"]))
refs = [f"{request['view']}:{name}" for name in request["features"]]
online = store.get_online_features(
    features=refs, entity_rows=[{"symbol": s} for s in request["symbols"]]
).to_dict()
entity_df = pd.DataFrame(request["entities"])
entity_df["event_timestamp"] = pd.to_datetime(entity_df["event_timestamp"], utc=True)
hist = store.get_historical_features(entity_df=entity_df, features=refs).to_df()
hist["event_timestamp"] = hist["event_timestamp"].astype(str)
print("SV-JSON:" + json.dumps({
    "online": online,
    "historical": json.loads(hist.to_json(orient="records", double_precision=15)),
    "pandas": pd.__version__,
}))
"""


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return compute_features(
        adjust(generate_market(n_symbols=3, years=2, seed=5), exchange_of="HOSE")
    )


def _feast_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["FEAST_USAGE"] = "False"
    return env


def test_export_frame_is_stamped_at_the_session_close(features):
    frame = feast_frame(features)
    assert list(frame.columns[:3]) == ["symbol", "event_timestamp", "created_timestamp"]
    assert set(FEATURES) <= set(frame.columns)
    first = frame.iloc[0]
    week_end = features.loc[first["symbol"]].index[0]
    # 15:00 in Ho Chi Minh City is 08:00 UTC
    assert first["event_timestamp"] == pd.Timestamp(week_end).tz_localize("UTC") + pd.Timedelta(
        hours=8
    )


def test_feast_apply_materialize_and_read_back(features, tmp_path):
    if not (FEAST_BIN / "feast").exists():
        pytest.skip(
            "Feast not installed: run `bash scripts/setup_ops.sh feast` (scripts/test.sh does)"
        )
    repo = write_feast_repo(features, tmp_path / "feast_repo")
    apply = subprocess.run(
        [str(FEAST_BIN / "feast"), "apply"], cwd=repo, env=_feast_env(),
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert apply.returncode == 0, apply.stdout[-3000:] + apply.stderr[-3000:]

    frame = feast_frame(features)
    symbols = sorted(frame["symbol"].unique())
    wanted = FEATURES[:5]
    # point-in-time probes: at a close, one minute before it, and beyond the TTL after the last row
    probes, expected = [], []
    for sym in symbols:
        rows = frame[frame["symbol"] == sym].reset_index(drop=True)
        k = len(rows) // 2
        at, prev, last = rows.iloc[k], rows.iloc[k - 1], rows.iloc[-1]
        late = last["event_timestamp"] + pd.Timedelta(days=TTL_DAYS + 1)
        for ts, row in (
            (at["event_timestamp"], at),
            (at["event_timestamp"] - pd.Timedelta(minutes=1), prev),
            (late, None),
        ):
            probes.append({"symbol": sym, "event_timestamp": ts.isoformat()})
            expected.append(None if row is None else [row[f] for f in wanted])
    request = {
        "start": (frame["event_timestamp"].min() - pd.Timedelta(days=1)).isoformat(),
        "end": (frame["event_timestamp"].max() + pd.Timedelta(days=1)).isoformat(),
        "view": FEATURE_VIEW,
        "features": wanted,
        "symbols": symbols,
        "entities": probes,
    }
    proc = subprocess.run(
        [str(FEAST_BIN / "python"), "-c", PROBE], cwd=repo, env=_feast_env(),
        input=json.dumps(request), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("SV-JSON:"))
    result = json.loads(line.removeprefix("SV-JSON:"))
    assert result["pandas"].startswith("2.")  # Feast ran in its own environment

    online = result["online"]
    for i, sym in enumerate(online["symbol"]):
        latest = frame[frame["symbol"] == sym].iloc[-1]
        for name in wanted:
            value = np.nan if online[name][i] is None else online[name][i]
            np.testing.assert_allclose(value, latest[name], rtol=0, atol=1e-12)

    got = {(r["symbol"], pd.Timestamp(r["event_timestamp"])): r for r in result["historical"]}
    for probe, values in zip(probes, expected, strict=True):
        key = (probe["symbol"], pd.Timestamp(probe["event_timestamp"]))
        if values is None:  # beyond the TTL: Feast's file store returns nulls or drops the row
            assert key not in got or all(got[key][name] is None for name in wanted), got[key]
        else:
            row = got[key]
            actual = [np.nan if row[n] is None else row[n] for n in wanted]  # NaN is stored as null
            np.testing.assert_allclose(actual, values, rtol=0, atol=1e-12)
    assert sum(v is not None for v in expected) == 2 * len(symbols)


def test_cli_writes_the_repository_from_the_store(vn30_index_path, tmp_path):
    from typer.testing import CliRunner

    from stockvision.cli.main import app

    runner = CliRunner()
    for args in (["ingest", "--source", "csv", str(vn30_index_path)], ["features", "build"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    repo = tmp_path / "repo"
    result = runner.invoke(app, ["features", "export", "--feast", str(repo)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in repo.iterdir()} >= {"feature_store.yaml", "stockvision_features.py"}
    table = pd.read_parquet(repo / "data" / "weekly_features.parquet")
    assert table["symbol"].unique().tolist() == ["VN30"] and len(table) > 400
    definitions = (repo / "stockvision_features.py").read_text()
    assert all(f'Field(name="{name}", dtype=Float64)' in definitions for name in FEATURES)
    compile(definitions, "stockvision_features.py", "exec")
    bad = runner.invoke(app, ["features", "export"])
    assert bad.exit_code != 0 and "exactly one" in bad.output
