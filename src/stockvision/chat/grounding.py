"""Grounding: every number of an answer must come from that turn's tool results.

Why a checker and not trust: an LLM that phrases an answer can invent a price, and even the
deterministic formatter could drift from its inputs. The checker reads every number of the final
text, in Vietnamese ("1.234,5") or English ("1,234.5") style, and looks for it among the numbers of
the turn's tool results under the transforms the formatter uses (fractions shown as percents,
VND shown in thousands, rounding to the shown decimals), the parts and ages of their dates, counts
of their items, and the numbers the user typed. What matches nothing is reported as unsupported.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

#: The forecast horizon in weeks: a product constant, not data (every answer may state it).
HORIZON_WEEKS = 4
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")
#: A number token as answers and users write it ("1.234,5", "1,234.5", "+5,0", "90" of "90k").
NUMBER = re.compile(r"(?<![A-Za-z\d])[-+]?\d+(?:[.,]\d+)*(?![A-Za-z]*\d)")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass
class GroundingReport:
    ok: bool
    checked: int
    unsupported: list[str] = field(default_factory=list)


def parses(token: str) -> list[tuple[float, int]]:
    """Readings of a number token as (value, decimals shown), both locale styles."""
    t = token.lstrip("+")
    out = []
    for group, dec in ((".", ","), (",", ".")):
        body = t
        decimals = 0
        if dec in body:
            whole, _, frac = body.rpartition(dec)
            if group in frac:
                continue
            decimals = len(frac)
            body = whole.replace(group, "") + "." + frac
        else:
            parts = body.split(group)
            if len(parts) > 1 and not all(len(p) == 3 for p in parts[1:]):
                continue
            body = body.replace(group, "")
        try:
            out.append((float(body), decimals))
        except ValueError:
            continue
    return out


def _walk(value: Any, nums: list[float], dates: list[date], counts: list[int]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        if math.isfinite(value):
            nums.append(float(value))
        return
    if isinstance(value, datetime):
        dates.append(value.date())
        return
    if isinstance(value, date):
        dates.append(value)
        return
    if isinstance(value, str):
        if _ISO.match(value):
            with contextlib.suppress(ValueError):
                dates.append(date.fromisoformat(value[:10]))
        # text a tool produced (a model's measured-skill line, a window "2016-06 .. 2019-06")
        # carries numbers the tool computed: the answer may quote them as written
        for token in NUMBER.findall(value):
            nums.extend(abs(v) for v, _ in parses(token))
        return
    if isinstance(value, dict):
        for v in value.values():
            _walk(v, nums, dates, counts)
        return
    if isinstance(value, list | tuple | set):
        counts.append(len(value))
        for v in value:
            _walk(v, nums, dates, counts)
        return
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        _walk(dump(mode="json"), nums, dates, counts)
        return
    if hasattr(value, "__dict__"):
        _walk(vars(value), nums, dates, counts)


def allowed_numbers(results: Iterable[Any], user_text: str = "", today: date | None = None):
    """The numbers an answer may show, from the results (and the user's own numbers)."""
    nums: list[float] = []
    dates: list[date] = []
    counts: list[int] = []
    for r in results:
        _walk(r, nums, dates, counts)
    today = today or date.today()
    exact: set[float] = set()
    exact.add(HORIZON_WEEKS)
    for d in dates:
        exact.update({d.day, d.month, d.year, d.year + 1, (today - d).days})
        weeks = (d - min(dates)).days / 7
        exact.add(round(weeks))
    for c in counts:
        exact.update(range(0, c + 1))
    for token in NUMBER.findall(user_text):
        exact.update(v for v, _ in parses(token))
    scaled = []
    for x in nums:
        scaled += [x, x * 100, x / 1000, abs(x), abs(x) * 100]
    return scaled, exact


def check(
    answer: str,
    results: Sequence[Any],
    user_text: str = "",
    today: date | None = None,
    examples: Sequence[str] = (),
) -> GroundingReport:
    """Whether every number of ``answer`` is supported by ``results`` (see the module doc).

    Example questions the answer suggests (``examples``, and any text in quotes “…”) are not
    claims: their numbers ("Top 5 …") are not checked.
    """
    scaled, exact = allowed_numbers(results, user_text, today)
    for example in examples:
        answer = answer.replace(example, " ")
    tokens = NUMBER.findall(_QUOTED.sub(" ", answer))
    bad = []
    for token in tokens:
        ok = False
        for value, decimals in parses(token):
            if value in exact or abs(value) in exact:
                ok = True
                break
            tol = 0.5 * 10 ** (-decimals) + 1e-9
            if any(abs(abs(value) - abs(a)) <= tol for a in scaled):
                ok = True
                break
        if not ok:
            bad.append(token)
    return GroundingReport(ok=not bad, checked=len(tokens), unsupported=bad)
