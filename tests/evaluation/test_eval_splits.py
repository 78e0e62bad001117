"""Walk-forward splitter: exact layout and no-overlap properties including the label horizon."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockvision.evaluation.splits import Fold, WalkForwardSplitter

WEEKS = pd.date_range("2018-01-05", periods=120, freq="W-FRI")


def _pos(ts: pd.Timestamp) -> int:
    return int(WEEKS.get_loc(ts))


def test_first_fold_layout_exact():
    sp = WalkForwardSplitter(min_train_weeks=40, step_weeks=4, horizon=4, embargo=1, val_weeks=8)
    folds = list(sp.split(WEEKS))
    f = folds[0]
    assert isinstance(f, Fold) and f.index == 0
    assert (_pos(f.train_start), _pos(f.train_end)) == (0, 26)
    assert (_pos(f.val_start), _pos(f.val_end)) == (32, 39)
    assert (_pos(f.test_start), _pos(f.test_end)) == (45, 48)
    # expanding: next fold keeps the start, moves everything else by step_weeks
    g = folds[1]
    assert g.train_start == f.train_start and _pos(g.train_end) == 30 and _pos(g.test_start) == 49
    # the last block is clipped to the data
    assert folds[-1].test_end == WEEKS[-1]
    assert len(folds) == sp.n_splits(WEEKS) == 19
    assert f.to_dict()["test_start"] == WEEKS[45].date().isoformat()


def test_unsorted_duplicated_input_and_no_validation():
    shuffled = list(WEEKS[::-1]) + list(WEEKS[:10])
    sp = WalkForwardSplitter(min_train_weeks=30, val_weeks=0)
    f = next(sp.split(shuffled))
    assert f.val_start is None and f.val_end is None
    assert (_pos(f.train_end), _pos(f.test_start)) == (29, 35)


def test_max_folds_keeps_latest():
    sp = WalkForwardSplitter(min_train_weeks=40, val_weeks=8, max_folds=3)
    folds = list(sp.split(WEEKS))
    all_folds = list(WalkForwardSplitter(min_train_weeks=40, val_weeks=8).split(WEEKS))
    assert [f.test_start for f in folds] == [f.test_start for f in all_folds[-3:]]
    assert [f.index for f in folds] == [0, 1, 2]


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="min_train_weeks"):
        list(WalkForwardSplitter(min_train_weeks=200).split(WEEKS))
    with pytest.raises(ValueError, match="no fit weeks"):
        WalkForwardSplitter(min_train_weeks=10, val_weeks=8)
    with pytest.raises(ValueError, match="step_weeks"):
        WalkForwardSplitter(step_weeks=0)


@settings(max_examples=150, deadline=None)
@given(
    n_weeks=st.integers(20, 160),
    min_train=st.integers(5, 60),
    step=st.integers(1, 8),
    horizon=st.integers(1, 6),
    embargo=st.integers(0, 3),
    val=st.integers(0, 12),
    test=st.one_of(st.none(), st.integers(1, 8)),
)
def test_parts_never_overlap_including_label_horizon(
    n_weeks, min_train, step, horizon, embargo, val, test
):
    weeks = pd.date_range("2015-01-02", periods=n_weeks, freq="W-FRI")
    try:
        sp = WalkForwardSplitter(
            min_train_weeks=min_train,
            step_weeks=step,
            test_weeks=test,
            horizon=horizon,
            embargo=embargo,
            val_weeks=val,
        )
        folds = list(sp.split(weeks))
    except ValueError:
        return  # configuration impossible for this data: reported, not silently wrong
    idx = {w: i for i, w in enumerate(weeks)}
    prev_test_end = -1
    for f in folds:
        ts, te, ss, se = idx[f.train_start], idx[f.train_end], idx[f.test_start], idx[f.test_end]
        assert ts == 0 and ts <= te and ss <= se < n_weeks
        last_label_before_test = te + horizon
        if val:
            vs, ve = idx[f.val_start], idx[f.val_end]
            assert ve - vs + 1 == val
            # fit labels end before validation starts (with the embargo), val labels before test
            assert te + horizon + embargo < vs
            last_label_before_test = ve + horizon
        assert last_label_before_test + embargo < ss
        # test blocks move forward and never overlap when test_weeks <= step_weeks
        if (test or step) <= step:
            assert ss > prev_test_end
        prev_test_end = se


@pytest.mark.parametrize("step", [26, 52])
def test_coarse_refit_cadence_keeps_purge_and_tiles_the_test_weeks(step):
    """The sequence models' coarse cadence (test_weeks = step_weeks = 26 or 52) on a market-sized
    calendar: every fold keeps the purge/embargo gaps, and the test blocks tile the weeks from the
    first kept block to the end without gap or overlap (each week is tested exactly once)."""
    weeks = pd.date_range("2000-08-04", periods=1010, freq="W-FRI")
    first = pd.Timestamp("2010-04-30")
    sp = WalkForwardSplitter(
        horizon=4, step_weeks=step, test_weeks=step, first_test_week=first, val_weeks=13
    )
    folds = list(sp.split(weeks))
    idx = {w: i for i, w in enumerate(weeks)}
    assert folds and folds[0].test_start >= first and folds[-1].test_end == weeks[-1]
    assert idx[folds[0].test_start] - idx[first] < step  # at most one block lost to the grid
    tested: list[int] = []
    for f in folds:
        te, vs, ve = idx[f.train_end], idx[f.val_start], idx[f.val_end]
        ss, se = idx[f.test_start], idx[f.test_end]
        assert te + sp.gap < vs and ve + sp.gap < ss  # label horizon + embargo purged
        assert se - ss + 1 == step or f is folds[-1]
        tested.extend(range(ss, se + 1))
    assert tested == list(range(idx[folds[0].test_start], len(weeks)))
