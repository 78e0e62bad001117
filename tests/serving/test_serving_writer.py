"""The prediction writer on a real SQLite store: a served prediction is written once, and again
only when it is served with other caveats (its row then holds what it was last shown with)."""

from __future__ import annotations

import json
from datetime import date, datetime

from stockvision.data.store import Store
from stockvision.predict.types import (
    Caveat,
    ModelVersions,
    PatternProbabilities,
    Prediction,
    PriceInterval,
)
from stockvision.serving.writer import PredictionWriter

DEPARTED = Caveat(code="live_coverage_departed", message_vi="…", message_en="…", measured=0.55)
NARROW = Caveat(code="narrow_range_undercovers", message_vi="…", message_en="…", measured=0.71)


def _served(symbol: str = "VNM", caveats: list[Caveat] | None = None) -> Prediction:
    return Prediction(
        symbol=symbol,
        exchange="HOSE",
        company_name=symbol,
        prediction_date=date(2024, 3, 8),
        target_date=date(2024, 4, 5),
        data_as_of=date(2024, 3, 8),
        last_close=60_000.0,
        last_close_k=60.0,
        price_target=61_000.0,
        price_target_k=61.0,
        interval=PriceInterval(low=55_000.0, high=67_000.0, coverage=0.8),
        expected_return=0.016,
        pattern="SIDEWAYS",
        probabilities=PatternProbabilities(up=0.3, down=0.3, sideways=0.4),
        confidence=0.4,
        caveats=caveats or [],
        model_versions=ModelVersions(price="7", pattern="8"),
        simulated=False,
        generated_at=datetime(2024, 3, 8, 9, 30),
    )


class CountingStore:
    """The real store, counting the rows the writer hands it."""

    def __init__(self, store: Store) -> None:
        self.store, self.rows = store, 0

    def save_predictions(self, rows):
        self.rows += len(rows)
        return self.store.save_predictions(rows)


def _stored(store: Store) -> dict[str, list[str] | None]:
    frame = store.read_predictions()
    return {
        r["symbol"]: None if r["caveats"] is None else [c["code"] for c in json.loads(r["caveats"])]
        for r in frame.to_dict("records")
    }


def test_a_prediction_is_written_again_only_when_its_caveats_change(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    counting = CountingStore(store)
    writer = PredictionWriter(counting)  # no thread: each record is written at once

    writer.record([_served(), _served("FPT", [NARROW])], "api")
    assert counting.rows == 2 and _stored(store) == {"VNM": [], "FPT": ["narrow_range_undercovers"]}
    writer.record([_served(), _served("FPT", [NARROW])], "chat")  # the same answers again
    assert counting.rows == 2
    writer.record([_served(caveats=[DEPARTED])], "api")  # monitoring flagged VNM's width bin
    assert counting.rows == 3 and _stored(store)["VNM"] == ["live_coverage_departed"]
    later = DEPARTED.model_copy(update={"measured": 0.52})  # the next report: another figure
    writer.record([_served(caveats=[later])], "api")
    assert counting.rows == 4 and _stored(store)["VNM"] == ["live_coverage_departed"]
    assert (
        json.loads(store.read_predictions(symbol="VNM")["caveats"].iloc[0])[0]["measured"] == 0.52
    )
    writer.record([_served()], "api")  # the departure is over: served without it again
    assert counting.rows == 5 and _stored(store)["VNM"] == []
    assert len(store.read_predictions()) == 2  # one row per prediction, updated in place


def test_queued_answers_write_the_caveats_shown_last(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    writer = PredictionWriter(store)
    writer._thread = object()  # as if the background thread ran: record only queues
    writer.record([_served()], "api")
    writer.record([_served(caveats=[DEPARTED])], "api")
    writer.record([_served(caveats=[DEPARTED])], "chat")
    writer._thread = None
    writer.flush()
    [row] = store.read_predictions().to_dict("records")
    assert json.loads(row["caveats"]) == [{"code": "live_coverage_departed", "measured": 0.55}]
    assert row["source"] == "api"


def test_cached_answers_are_recorded_when_they_differ_from_the_last_one(tmp_path):
    """The cache path hands the writer JSON: a departure's answer and, after it, the older
    cached answer without the caveat are each stored; the same answer again writes nothing."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    counting = CountingStore(store)
    writer = PredictionWriter(counting)
    plain, flagged = _served(), _served(caveats=[DEPARTED])
    key = plain.stored_key()
    raw_plain, raw_flagged = plain.model_dump_json().encode(), flagged.model_dump_json().encode()
    writer.record_json(key, raw_plain, "api")
    writer.record_json(key, raw_flagged, "api")
    assert _stored(store)["VNM"] == ["live_coverage_departed"]
    writer.record_json(key, raw_plain, "api")  # the departure is over: the old cached answer
    assert _stored(store)["VNM"] == [] and counting.rows == 3
    writer.record_json(key, raw_plain, "api")
    assert counting.rows == 3
