from datetime import UTC, date, datetime

from stockvision.market.sessions import is_open, next_open, phase, to_local, trading_minutes


def _vn(h, m, day=date(2026, 12, 2)):  # a Wednesday
    return datetime(day.year, day.month, day.day, h - 7, m, tzinfo=UTC)


def test_hose_phases_and_the_lunch_break():
    assert phase(_vn(8, 59)) == "pre"
    assert phase(_vn(9, 0)) == "morning" and is_open(_vn(10, 0))
    assert phase(_vn(11, 30)) == "lunch" and not is_open(_vn(12, 0))
    assert phase(_vn(13, 0)) == "afternoon"
    assert phase(_vn(14, 35)) == "atc" and is_open(_vn(14, 44))
    assert phase(_vn(14, 45)) == "closed" and not is_open(_vn(14, 45))
    assert phase(_vn(14, 50), "UPCOM") == "afternoon"  # UPCoM trades to 15:00, no ATC
    assert phase(_vn(10, 0, date(2026, 12, 5))) == "closed"  # Saturday


def test_trading_minutes_skip_lunch_and_next_open():
    minutes = trading_minutes(date(2026, 12, 2))
    assert len(minutes) == 150 + 105  # 09:00-11:30 and 13:00-14:45
    local = [
        to_local(datetime.fromtimestamp(m.astype("int64") / 1e9, UTC))
        for m in minutes[[0, 149, 150, -1]]
    ]
    assert [(t.hour, t.minute) for t in local] == [(9, 0), (11, 29), (13, 0), (14, 44)]
    assert to_local(next_open(_vn(12, 0))).hour == 13
    friday_evening = _vn(16, 0, date(2026, 12, 4))
    nxt = to_local(next_open(friday_evening))
    assert (nxt.weekday(), nxt.hour) == (0, 9)
