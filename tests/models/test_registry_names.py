"""Registry names map to constructors of the right kind."""

from __future__ import annotations

import pytest

from stockvision.models import registry_names as rn


def test_every_name_builds_a_model_of_the_listed_kind():
    assert set(rn.MODEL_FACTORIES) == {
        "ridge", "lgbm_reg", "arima", "har_vol", "ridge_har", "lgbm_vol", "factor_combo", "random_walk",
        "vol_random_walk",
        "drift",
        "lstm", "gru",
        "cnn_bilstm_attn", "lgbm_clf", "majority", "momentum_sign",
    }  # fmt: skip
    for name, factory in rn.MODEL_FACTORIES.items():
        model = factory()
        assert model.name == name
        expected = "price" if name in rn.PRICE_MODELS + rn.PRICE_BASELINES else "pattern"
        assert model.kind == expected
    assert set(rn.BASELINES) == set(rn.PRICE_BASELINES) | set(rn.PATTERN_BASELINES)
    assert set(rn.PRICE_MODELS + rn.PATTERN_MODELS + rn.BASELINES) == set(rn.MODEL_FACTORIES)


def test_make_model_passes_params_and_rejects_unknown_names():
    assert rn.make_model("ridge", alpha=2.0).alpha == 2.0
    assert rn.make_model("gru", hidden=(16, 8)).arch == "gru"
    with pytest.raises(ValueError, match="Unknown model 'xgb'"):
        rn.make_model("xgb")
    with pytest.raises(ValueError, match="has no parameter 'nope'"):
        rn.make_model("ridge").set_params(nope=1)
