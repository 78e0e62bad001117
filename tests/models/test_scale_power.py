"""The scale basis reshaping: ``ref * (basis / ref) ** power``, fitted by CRPS on held-out rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sv_model_windows import windows_from_arrays

from stockvision.features.feature_docs import FEATURES
from stockvision.models.base import load_model
from stockvision.models.distribution import fit_scale_power, shaped_basis
from stockvision.models.volatility import HarVolModel, VolRandomWalkModel


def _rows(true_power: float, n: int = 20_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    basis = np.exp(rng.normal(np.log(0.1), 0.5, n))
    scale = 0.1 * (basis / 0.1) ** true_power
    return scale * rng.standard_t(5, n), basis


@pytest.mark.parametrize("true_power", [0.6, 1.0, 1.3])
def test_the_fitted_power_recovers_how_far_apart_the_true_scales_are(true_power: float) -> None:
    resid, basis = _rows(true_power)
    power, ref = fit_scale_power(resid, basis, 0.8)
    assert power == pytest.approx(true_power, abs=0.1)
    assert ref == pytest.approx(float(np.median(basis)))


def test_a_basis_that_cannot_be_bent_keeps_power_one() -> None:
    """A constant basis: every power gives the same distribution, the tie-break keeps 1."""
    resid, _ = _rows(1.0, n=40, seed=3)
    power, _ = fit_scale_power(resid, np.full(40, 0.1), 0.8)
    assert power == 1.0
    assert fit_scale_power(np.array([np.nan]), np.array([0.1]), 0.8) == (1.0, 1.0)


def test_shaped_basis_keeps_the_reference_width() -> None:
    b = np.array([0.05, 0.1, 0.2])
    out = shaped_basis(b, 0.5, 0.1)
    np.testing.assert_allclose(out, [0.1 * math.sqrt(0.5), 0.1, 0.1 * math.sqrt(2)])
    np.testing.assert_allclose(shaped_basis(b, 1.0, 0.3), b)


def _over_spread_windows(seed: int = 0, n_symbols: int = 60, n_weeks: int = 150):
    """Daily vols spread 1-8 %, but each month's return scale grows only as vol ** 0.5."""
    rng = np.random.default_rng(seed)
    weeks = pd.date_range("2015-01-02", periods=n_weeks, freq="W-FRI")
    vol = np.exp(rng.uniform(np.log(0.01), np.log(0.08), (n_symbols, 1))) * np.ones((1, n_weeks))
    true = 0.1 * (vol / 0.03) ** 0.5
    fut = true * rng.standard_t(6, size=vol.shape)
    fut[:, -4:] = np.nan
    feats = np.abs(rng.normal(0.02, 0.01, size=(n_symbols, n_weeks, len(FEATURES))))
    feats[:, :, FEATURES.index("vol_4w")] = vol
    return windows_from_arrays(feats, fut, weeks, [(0, 90), (95, 115), (120, n_weeks - 4)])


def test_fitting_the_power_repairs_a_basis_spread_too_far_and_round_trips(tmp_path) -> None:
    train, val, test = _over_spread_windows()
    y = test.labels["future_log_return"].to_numpy()
    vol = test.X["vol_4w"].to_numpy()
    plain = VolRandomWalkModel(scale_power=1.0).fit(train, val)
    fitted = VolRandomWalkModel().fit(train, val)  # the default fits the exponent
    assert plain.scale_power_ == 1.0
    assert fitted.scale_power_ == pytest.approx(0.5, abs=0.15)
    crps = {m: float(m.predict_distribution(test).crps(y).mean()) for m in (plain, fitted)}
    assert crps[fitted] < 0.99 * crps[plain]
    # the plain basis under-covers the calmest names and over-covers the wildest; fitted does not
    calm, wild = vol <= np.quantile(vol, 0.2), vol >= np.quantile(vol, 0.8)
    for model, ok in ((plain, False), (fitted, True)):
        lo, hi = model.predict_interval(test)
        inside = (y >= lo) & (y <= hi)
        within = bool(
            abs(inside[calm].mean() - 0.8) < 0.06 and abs(inside[wild].mean() - 0.8) < 0.06
        )
        assert within is ok, (model.scale_power_, inside[calm].mean(), inside[wild].mean())
    back = load_model(fitted.save(tmp_path / "vrw"))
    assert back.scale_power_ == fitted.scale_power_ and back.basis_ref_ == fitted.basis_ref_
    np.testing.assert_allclose(
        back.predict_distribution(test).scale, fitted.predict_distribution(test).scale
    )
    lo, hi = fitted.predict_interval(test)
    dlo, dhi = fitted.predict_distribution(test).interval(0.8)
    np.testing.assert_allclose(dlo, lo, atol=1e-9)
    np.testing.assert_allclose(dhi, hi, atol=1e-9)


def test_a_fixed_power_is_served_and_bad_values_are_refused() -> None:
    train, val, test = _over_spread_windows(seed=1)
    model = HarVolModel(scale_power=0.7).fit(train, val)
    assert model.scale_power_ == 0.7
    basis = model.scale_basis(test)
    half = (model.predict_interval(test)[1] - model.predict(test)) / model.conformal_q_
    np.testing.assert_allclose(half, shaped_basis(basis, 0.7, model.basis_ref_))
    # the measured choice of docs/evaluation.md (Round 7): har_vol keeps its basis as it is
    assert HarVolModel().fit(train, val).scale_power_ == 1.0
    for bad in ("auto", 0.0, -1.0, 5.0):
        with pytest.raises(ValueError, match="scale_power"):
            HarVolModel(scale_power=bad).fit(train, val)


def test_a_model_saved_before_the_exponent_existed_serves_its_basis_as_it_is(tmp_path) -> None:
    import json

    from stockvision.models.base import MODEL_FILE

    train, val, test = _over_spread_windows(seed=2)
    plain = VolRandomWalkModel(scale_power=1.0).fit(train, val)
    path = plain.save(tmp_path / "old")
    meta = json.loads((path / MODEL_FILE).read_text())
    del meta["params"]["scale_power"]  # what a file written before this parameter holds
    del meta["state"]["scale_power"], meta["state"]["basis_ref"]
    (path / MODEL_FILE).write_text(json.dumps(meta))
    back = load_model(path)
    assert back.scale_power_ == 1.0
    np.testing.assert_allclose(
        back.predict_distribution(test).scale, plain.predict_distribution(test).scale
    )


def test_a_reshaped_basis_is_written_in_a_format_old_readers_refuse(tmp_path) -> None:
    """Code that reads only format 1 would ignore the exponent and serve wrong widths: a model
    with one is written as format 2; one without stays format 1, readable by older code."""
    import json

    from stockvision.models.base import MODEL_FILE, ModelLoadError

    train, val, _ = _over_spread_windows(seed=3)
    fitted = VolRandomWalkModel().fit(train, val)
    plain = VolRandomWalkModel(scale_power=1.0).fit(train, val)
    assert fitted.scale_power_ != 1.0
    for model, version in ((fitted, 2), (plain, 1)):
        path = model.save(tmp_path / str(version))
        meta = json.loads((path / MODEL_FILE).read_text())
        assert meta["format_version"] == version
        assert load_model(path).scale_power_ == model.scale_power_
    meta["format_version"] = 3
    (path / MODEL_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="format version 3, this Stock Vision reads 1, 2"):
        load_model(path)
