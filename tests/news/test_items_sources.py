"""Items, dedup keys and the three readers (JSON Lines, RSS/Atom, vnstock) at their boundary."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from stockvision.errors import DataValidationError, SourceError, SourceUnavailableError
from stockvision.news.items import dedup_key, make_item, normalise_link, parse_published
from stockvision.news.sources import VnstockNewsClient, parse_feed, read_file, read_jsonl


def test_dedup_key_ignores_case_punctuation_tracking_and_scheme() -> None:
    a = dedup_key("Cổ phiếu HPG tăng mạnh!", "https://www.cafef.vn/a-1.chn?utm_source=x")
    b = dedup_key("cổ phiếu  HPG tăng mạnh", "http://cafef.vn/a-1.chn/")
    assert a == b
    assert a != dedup_key("Cổ phiếu HPG giảm mạnh", "https://cafef.vn/a-1.chn")
    assert normalise_link("https://x.vn/p?b=2&a=1&fbclid=z#top") == "x.vn/p?a=1&b=2"


def test_published_times_become_naive_utc() -> None:
    assert parse_published("2025-10-01T07:15:13+00:00") == datetime(2025, 10, 1, 7, 15, 13)
    # no zone: Vietnam time (UTC+7)
    assert parse_published("2025-10-01 14:00") == datetime(2025, 10, 1, 7, 0)
    assert parse_published("Wed, 01 Oct 2025 14:00:00 +0700") == datetime(2025, 10, 1, 7, 0)
    assert parse_published(1759302000000) == datetime(2025, 10, 1, 7, 0)
    with pytest.raises(ValueError, match="publication time"):
        parse_published("not a date")


def test_item_text_is_cleaned_and_bad_links_refused() -> None:
    item = make_item(
        title="<b>VNM</b> &amp; lãi",
        link="https://a.vn/x",
        published="2025-01-01T00:00Z",
        source="",
    )
    assert item.title == "VNM & lãi" and item.source == "unknown"
    sneaky = make_item(title="HPG\u202e tăng\x00\u200b", link="", published="2025-01-01T00:00Z",
                       source="S")  # fmt: skip
    assert sneaky.title == "HPG tăng"  # bidi override, NUL and zero-width space dropped
    with pytest.raises(ValueError, match="http"):
        make_item(title="x", link="javascript:alert(1)", published="2025-01-01T00:00Z", source="s")
    with pytest.raises(ValueError, match="empty title"):
        make_item(title="  ", link="", published="2025-01-01T00:00Z", source="s")


def test_jsonl_reader_reports_bad_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    good = {"id": "1", "published": "2025-09-01T01:00:00+00:00", "source": "S", "title": "A",
            "summary": "s", "link": "https://a.vn/1"}  # fmt: skip
    path = tmp_path / "n.jsonl"
    path.write_text(
        "\n".join(
            [json.dumps(good), "{broken", json.dumps({**good, "title": ""}), "[1]",
             json.dumps({**good, "published": "never"}), ""]
        ),
        encoding="utf-8",
    )  # fmt: skip
    items, errors = read_jsonl(path)
    assert [i.title for i in items] == ["A"]
    assert [e.where for e in errors] == ["n.jsonl:2", "n.jsonl:3", "n.jsonl:4", "n.jsonl:5"]
    assert "not JSON" in errors[0].reason and "empty title" in errors[1].reason


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>CafeF</title>
<item><title>HPG lãi kỷ lục</title><link>https://cafef.vn/hpg.chn</link>
<pubDate>Wed, 01 Oct 2025 14:00:00 +0700</pubDate><description><![CDATA[<p>Hòa Phát</p>]]></description></item>
<item><title>No date</title><link>https://cafef.vn/x.chn</link></item>
</channel></rss>"""
ATOM = """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>VS</title>
<entry><title>VNM chia cổ tức</title><link rel="alternate" href="https://vs.vn/vnm"/>
<id>tag:1</id><published>2025-10-02T03:00:00Z</published><summary>Vinamilk</summary></entry></feed>"""


def test_rss_and_atom_are_parsed() -> None:
    items, errors = parse_feed(RSS)
    assert [(i.title, i.source, i.published) for i in items] == [
        ("HPG lãi kỷ lục", "CafeF", datetime(2025, 10, 1, 7, 0))
    ]
    assert items[0].summary == "Hòa Phát" and len(errors) == 1
    items, errors = parse_feed(ATOM.encode())
    assert [(i.title, i.link, i.origin_id) for i in items] == [
        ("VNM chia cổ tức", "https://vs.vn/vnm", "tag:1")
    ] and not errors


def test_hostile_xml_is_refused_not_expanded(tmp_path: Path) -> None:
    bomb = """<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">
    ]><rss><channel><item><title>&b;</title></item></channel></rss>"""
    with pytest.raises(DataValidationError, match="not well-formed or safe"):
        parse_feed(bomb)
    external = """<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
    <rss><channel><item><title>&x;</title></item></channel></rss>"""
    with pytest.raises(DataValidationError):
        parse_feed(external)
    path = tmp_path / "feed.xml"
    path.write_text(RSS, encoding="utf-8")
    assert len(read_file(path)[0]) == 1
    with pytest.raises(DataValidationError, match="not found"):
        read_file(tmp_path / "missing.jsonl")


class _Company:
    def __init__(self, answers: list) -> None:
        self.answers = answers

    def news(self) -> pd.DataFrame:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class _Client:
    """Behaves like ``vnstock.Vnstock()`` for ``stock(...).company.news()``."""

    def __init__(self, answers: list) -> None:
        self.company = _Company(answers)
        self.asked: list[tuple[str, str]] = []

    def stock(self, symbol: str, source: str):
        self.asked.append((symbol, source))
        return self


# Recorded shape of VCI's company news frame (columns as vnstock 3.x returns them).
VCI_FRAME = pd.DataFrame(
    {
        "id": [1, 2],
        "news_id": [9001, 9002],
        "news_title": ["VNM công bố kết quả quý 3", ""],
        "news_sub_title": ["Doanh thu tăng", None],
        "news_short_content": ["Vinamilk báo lãi", None],
        "news_source_link": ["https://vietcap.com.vn/n/9001", "https://vietcap.com.vn/n/9002"],
        "public_date": [1759302000000, 1759388400000],
        "close_price": [61.2, 60.8],
    }
)


def test_vnstock_client_maps_the_frame_and_tags_the_symbol() -> None:
    client = _Client([VCI_FRAME])
    waits: list[float] = []
    news = VnstockNewsClient(lambda: client, sleep=waits.append, clock=lambda: 0.0)
    items, errors = news.fetch("vnm")
    assert client.asked == [("VNM", "VCI")]
    assert [(i.title, i.symbols, i.origin_id, i.published) for i in items] == [
        ("VNM công bố kết quả quý 3", ["VNM"], "9001", datetime(2025, 10, 1, 7, 0))
    ]
    assert items[0].summary == "Vinamilk báo lãi" and items[0].source == "vnstock-VCI"
    assert len(errors) == 1 and "empty title" in errors[0].reason


def test_vnstock_client_retries_transient_failures_then_gives_up() -> None:
    waits: list[float] = []
    client = _Client([ConnectionError("reset"), VCI_FRAME])
    items, _ = VnstockNewsClient(lambda: client, sleep=waits.append, min_interval=0).fetch("VNM")
    assert len(items) == 1 and waits == [1.0]
    failing = _Client([ConnectionError("down")] * 3)
    with pytest.raises(SourceUnavailableError, match="after 3 attempts"):
        VnstockNewsClient(lambda: failing, sleep=waits.append, min_interval=0).fetch("VNM")
    bad = _Client([KeyError("news_title")])
    with pytest.raises(SourceError, match="unreadable"):
        VnstockNewsClient(lambda: bad, sleep=waits.append, min_interval=0).fetch("VNM")


def test_vnstock_client_paces_calls() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    client = _Client([VCI_FRAME, VCI_FRAME])
    news = VnstockNewsClient(lambda: client, min_interval=3.0, sleep=sleep, clock=lambda: now[0])
    news.fetch("VNM")
    now[0] += 1.0
    news.fetch("FPT")
    assert waits == [2.0]
