"""Intraday trading sessions of the Vietnamese exchanges (times in Asia/Ho_Chi_Minh, UTC+7).

HOSE: opening auction (ATO) 09:00-09:15, continuous matching to 11:30, lunch break 11:30-13:00,
continuous 13:00-14:30, closing auction (ATC) 14:30-14:45. HNX: the same hours with its ATC
14:30-14:45. UPCoM has no auctions: continuous 09:00-11:30 and 13:00-15:00. Trades happen only
inside these windows; the lunch break and the time after the close carry no ticks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

import numpy as np

from stockvision.market.exchanges import Exchange

#: Vietnam has no daylight saving time: a fixed offset is exact.
VN_TZ = timezone(timedelta(hours=7), "ICT")


@dataclass(frozen=True)
class Session:
    """A trading day's two matching windows on an exchange (local times)."""

    morning: tuple[time, time]
    afternoon: tuple[time, time]
    closing_auction: tuple[time, time] | None

    @property
    def open(self) -> time:
        return self.morning[0]

    @property
    def close(self) -> time:
        return self.afternoon[1]


SESSIONS: dict[Exchange, Session] = {
    Exchange.HOSE: Session((time(9, 0), time(11, 30)), (time(13, 0), time(14, 45)), (time(14, 30), time(14, 45))),
    Exchange.HNX: Session((time(9, 0), time(11, 30)), (time(13, 0), time(14, 45)), (time(14, 30), time(14, 45))),
    Exchange.UPCOM: Session((time(9, 0), time(11, 30)), (time(13, 0), time(15, 0)), None),
}  # fmt: skip


def session_of(exchange: Exchange | str = Exchange.HOSE) -> Session:
    return SESSIONS[Exchange.parse(exchange)]


def to_local(moment: datetime) -> datetime:
    """``moment`` in Vietnam time (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VN_TZ)


def phase(moment: datetime, exchange: Exchange | str = Exchange.HOSE) -> str:
    """``pre``, ``morning``, ``lunch``, ``afternoon``, ``atc`` or ``closed`` (weekends: closed)."""
    local = to_local(moment)
    if local.weekday() >= 5:
        return "closed"
    s = session_of(exchange)
    t = local.time()
    if t < s.morning[0]:
        return "pre"
    if t < s.morning[1]:
        return "morning"
    if t < s.afternoon[0]:
        return "lunch"
    if s.closing_auction and s.closing_auction[0] <= t < s.closing_auction[1]:
        return "atc"
    if t < s.afternoon[1]:
        return "afternoon"
    return "closed"


def is_open(moment: datetime, exchange: Exchange | str = Exchange.HOSE) -> bool:
    """Whether orders match at ``moment`` (continuous session or closing auction)."""
    return phase(moment, exchange) in ("morning", "afternoon", "atc")


def trading_minutes(day: date, exchange: Exchange | str = Exchange.HOSE) -> np.ndarray:
    """Start of every matching minute of ``day`` as UTC ``datetime64[ns]`` (lunch break skipped)."""
    s = session_of(exchange)
    out = []
    for start, end in (s.morning, s.afternoon):
        t0 = datetime.combine(day, start, VN_TZ)
        n = int((datetime.combine(day, end, VN_TZ) - t0).total_seconds() // 60)
        out.append(np.datetime64(t0.astimezone(UTC).replace(tzinfo=None), "ns")
                   + np.arange(n) * np.timedelta64(60, "s"))  # fmt: skip
    return np.concatenate(out)


def next_open(moment: datetime, exchange: Exchange | str = Exchange.HOSE) -> datetime:
    """The next moment orders match at or after ``moment`` (weekends skipped; holidays are the
    trading calendar's business)."""
    local = to_local(moment)
    s = session_of(exchange)
    for _ in range(8):
        if local.weekday() < 5:
            day = local.date()
            for start, end in (s.morning, s.afternoon):
                a, b = datetime.combine(day, start, VN_TZ), datetime.combine(day, end, VN_TZ)
                if local < b:
                    return max(local, a)
        local = datetime.combine(local.date() + timedelta(days=1), time(0, 0), VN_TZ)
    raise AssertionError("unreachable: a weekday comes within 8 days")
