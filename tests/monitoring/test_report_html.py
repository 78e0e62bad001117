"""The monitoring page: untrusted text escaped, the width chart shown only with live rows."""

from __future__ import annotations

from stockvision.monitoring.report import render_html

BIN = {
    "label": "0-5 %",
    "walk_forward_coverage": 0.70,
    "walk_forward_rows": 500,
    "live_coverage": 0.50,
    "live_rows": 200,
    "departs": True,
}


def test_summary_text_is_escaped_and_the_width_chart_is_drawn():
    page = render_html(
        {
            "summary": {"degraded": True, "reasons": ["drift: <script>alert(1)</script>"]},
            "live": {"coverage_by_width": [BIN]},
        }
    )
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "DEGRADED" in page and "coverage by predicted width" in page


def test_no_width_chart_without_live_rows():
    page = render_html(
        {
            "summary": {},
            "live": {"coverage_by_width": [{**BIN, "live_rows": 0, "live_coverage": None}]},
        }
    )
    assert "coverage by predicted width" not in page
