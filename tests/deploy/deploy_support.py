"""Helpers for the deployment tests (a uniquely named module rather than conftest, so test files
import it unambiguously): repository paths, the exported metric names and a
small PromQL reader that lists the metric names an expression selects."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

# Series Prometheus itself attaches to every scrape target.
SCRAPE_SERIES: frozenset[str] = frozenset({"up", "scrape_duration_seconds"})

_SAMPLE_SUFFIXES = ("_bucket", "_sum", "_count", "_created", "_total")
_PROMQL_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
     "unless", "offset", "inf", "nan", "start", "end"}
)  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_MODIFIER = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def promql_metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (functions, keywords, label names, durations
    and Grafana variables are not metric names and are dropped)."""
    text = _STRING.sub('""', expr)
    text = _GRAFANA_VAR.sub("1", text)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = _MODIFIER.sub(" ", text)  # by (...), on (...), group_left (...)
    names: set[str] = set()
    for match in _IDENT.finditer(text):
        word = match.group(0)
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before == ".":  # 1e3, 5m in `offset 5m`
            continue
        if text[match.end() :].lstrip().startswith("("):  # function call
            continue
        if word.lower() in _PROMQL_KEYWORDS:
            continue
        names.add(word)
    return names


def _stems(name: str) -> set[str]:
    stems = {name}
    for suffix in _SAMPLE_SUFFIXES:
        if name.endswith(suffix):
            stems.add(name[: -len(suffix)])
    return stems


def unknown_metrics(names: set[str], exported: set[str] | frozenset[str]) -> set[str]:
    """Names (sample names such as ``foo_bucket`` allowed) that match no exported metric."""
    known = set().union(*(_stems(m) for m in exported)) if exported else set()
    return {n for n in names if not (_stems(n) & known)}


def exported_metrics() -> tuple[frozenset[str], str]:
    """(metric names the API exports, where the list came from)."""
    from stockvision.serving.metrics import EXPORTED_METRICS

    return frozenset(EXPORTED_METRICS) | SCRAPE_SERIES, "stockvision.serving.metrics"
