"""An answer whose width bin's LIVE coverage left the walk-forward figure says so (API, on the
trained system), and stops saying it when the report no longer concerns the served champion."""

from __future__ import annotations

import itertools
import os
import time
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.integration


def _report(by_scale, price_version: str, live_coverage: float) -> dict:
    bins = [
        {
            "q_low": b.q_low,
            "q_high": b.q_high,
            "scale_max": b.scale_max,
            "walk_forward_rows": b.rows,
            "walk_forward_coverage": b.coverage_80,
            "live_rows": 300,
            "live_coverage": live_coverage,
            "departs": True,
            "label": f"{b.q_low * 100:g}-{b.q_high * 100:g} %",
        }
        for b in by_scale.bins
    ]
    return {"summary": {"price_version": price_version}, "live": {"coverage_by_width": bins}}


#: modification times that only grow, 2 s apart (a change is seen on any file-system clock)
_STAMPS = itertools.count(time.time_ns() + 2_000_000_000, 2_000_000_000)


@pytest.fixture
def served(trained_settings):
    """The trained system's API with no monitoring report yet, and a writer of reports."""
    from fastapi.testclient import TestClient

    from stockvision.evaluation.scale_coverage import ScaleCoverage
    from stockvision.monitoring.state import MonitoringState
    from stockvision.serving.app import create_app

    state = MonitoringState(trained_settings.subdir("monitoring"))
    app = create_app(trained_settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as client:
        service = app.state.service

        def write(report: dict) -> None:
            state.write_latest(report)
            stamp = next(_STAMPS)
            os.utime(state.latest_path, ns=(stamp, stamp))

        state.latest_path.unlink(missing_ok=True)
        yield SimpleNamespace(
            client=client,
            service=service,
            models=service.models,
            by_scale=ScaleCoverage.from_metrics(dict(service.models.price_metrics)),
            write=write,
        )


def test_answers_carry_the_live_coverage_of_their_width_when_monitoring_flagged_it(served):
    client, models, by_scale, write = served.client, served.models, served.by_scale, served.write
    assert by_scale is not None

    def codes() -> list[str]:
        r = client.post("/api/v1/predict/VNM")
        assert r.status_code == 200, r.text
        return [c["code"] for c in r.json()["caveats"]]

    assert "live_coverage_departed" not in codes()
    write(_report(by_scale, str(models.price_version), 0.55))
    r = client.post("/api/v1/predict/VNM").json()
    [live] = [c for c in r["caveats"] if c["code"] == "live_coverage_departed"]
    assert "55% of the time (300 resolved forecasts)" in live["message_en"]
    assert "300 dự báo đã có kết quả" in live["message_vi"]
    # the stored prediction records the caveats it was shown with, with the measured figure
    shown = sorted((c["code"], c["measured"]) for c in r["caveats"])
    assert _stored_caveats(served.service, r) == shown
    # a report about another price version says nothing about this champion
    write(_report(by_scale, "not-" + str(models.price_version), 0.55))
    cleared = client.post("/api/v1/predict/VNM").json()
    assert "live_coverage_departed" not in [c["code"] for c in cleared["caveats"]]
    # served again without it: the same row now holds what it was last shown with
    assert _stored_caveats(served.service, cleared) == sorted(
        (c["code"], c["measured"]) for c in cleared["caveats"]
    )


def _stored_caveats(service, answer: dict, timeout: float = 15.0) -> list[tuple]:
    """The caveats of ``answer``'s row in the store, once the writer has written what it was
    last served with (the writer may run in the background)."""
    import json

    end = time.monotonic() + timeout
    while True:
        service.writer.flush()
        rows = service.store.read_predictions(symbol=answer["symbol"])
        rows = rows[rows["price_model_version"] == answer["model_versions"]["price"]]
        got = [sorted((c["code"], c["measured"]) for c in json.loads(x)) for x in rows["caveats"]
               if isinstance(x, str)]  # fmt: skip
        if got and (got[-1] == sorted((c["code"], c["measured"]) for c in answer["caveats"])
                    or time.monotonic() > end):  # fmt: skip
            return got[-1]
        time.sleep(0.1)


def test_a_report_landing_mid_request_never_files_an_answer_under_the_other_reports_key(served):
    """The cache key and the caveats of one answer come from one read of the report: a report
    that departs, landing while an answer is computed, must not leave that answer (with its
    caveat) under the no-report key, to be served again once the departure is over."""
    client, service, models = served.client, served.service, served.models
    by_scale, write = served.by_scale, served.write
    service.cache.clear()
    real_read = service.live_width.read
    calls = []

    def read_then_a_report_lands(price_version):
        result = real_read(price_version)
        if not calls:
            write(_report(by_scale, str(models.price_version), 0.55))
        calls.append(result)
        return result

    service.live_width.read = read_then_a_report_lands
    first = service.predict_one("VNM")  # the inference path (the API's cache probe aside)
    service.live_width.read = real_read
    codes = [c.code for c in first.caveats]
    assert "live_coverage_departed" not in codes  # answered from the report it was keyed on
    assert len(calls) == 1
    r = client.post("/api/v1/predict/VNM").json()  # the report that landed is now served
    assert "live_coverage_departed" in [c["code"] for c in r["caveats"]]
    # the departure ends (a report about another version): no caveat may come back from cache
    write(_report(by_scale, "not-" + str(models.price_version), 0.55))
    again = client.post("/api/v1/predict/VNM").json()
    assert "live_coverage_departed" not in [c["code"] for c in again["caveats"]]
