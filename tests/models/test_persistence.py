"""Pickle-free save/load: identical predictions after a round trip, clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stockvision.models import (
    ModelLoadError,
    NotFittedError,
    PatternModel,
    PriceModel,
    RidgePriceModel,
    load_model,
)
from stockvision.models.base import FORMAT_VERSION, MODEL_FILE
from stockvision.models.registry_names import MODEL_FACTORIES, make_model

FAST = {
    "lstm": {"max_epochs": 1, "num_threads": 1},
    "gru": {"max_epochs": 1, "num_threads": 1},
    "cnn_bilstm_attn": {"max_epochs": 1, "num_threads": 1},
    "lgbm_reg": {"n_estimators": 30, "num_threads": 1},
    "lgbm_clf": {"n_estimators": 30, "num_threads": 1},
    "arima": {"orders": ((1, 0, 0),)},
}
WEIGHT_FILES = {
    "ridge": "ridge.npz",
    "lgbm_reg": "booster.txt",
    "lgbm_clf": "booster.txt",
    "lstm": "weights.pt",
    "cnn_bilstm_attn": "weights.pt",
}


@pytest.fixture(scope="module")
def saved(feature_windows, tmp_path_factory) -> dict[str, tuple[object, Path]]:
    train, val, _ = feature_windows
    root = tmp_path_factory.mktemp("models")
    out = {}
    for name in MODEL_FACTORIES:
        model = make_model(name, **FAST.get(name, {})).fit(train, val)
        out[name] = (model, model.save(root / name))
    return out


def _outputs(model, window) -> list[np.ndarray]:
    if isinstance(model, PriceModel):
        return [model.predict(window), *model.predict_interval(window)]
    return [model.predict_proba(window), model.predict(window)]


@pytest.mark.parametrize("name", list(MODEL_FACTORIES))
def test_round_trip_gives_identical_predictions(saved, feature_windows, name):
    model, path = saved[name]
    test = feature_windows[2]
    loaded = load_model(path)
    assert type(loaded) is type(model)
    assert loaded.name == model.name == name
    assert loaded.get_params() == model.get_params()
    for a, b in zip(_outputs(model, test), _outputs(loaded, test), strict=True):
        assert np.array_equal(a, b)
    again = type(model).load(path)
    assert np.array_equal(_outputs(again, test)[0], _outputs(model, test)[0])


def test_model_json_records_format_class_features_and_transformer(saved):
    _, path = saved["ridge"]
    meta = json.loads((path / MODEL_FILE).read_text())
    assert meta["format_version"] == 1  # the lowest format that describes it (no reshaped scale)
    assert meta["class"] == "RidgePriceModel" and meta["kind"] == "price"
    assert len(meta["features"]) == 21
    assert set(meta["transformer"]) >= {"mean", "scale", "lower", "upper"}
    assert meta["params"]["coverage"] == 0.8
    assert not list(path.glob("*.pkl")) and not list(path.glob("*.joblib"))


def test_missing_directory_or_model_json(tmp_path):
    with pytest.raises(ModelLoadError, match=r"model\.json: file not found.*retrain"):
        load_model(tmp_path / "nowhere")


def test_corrupt_model_json(saved, tmp_path):
    path = tmp_path / "ridge"
    path.mkdir()
    (path / MODEL_FILE).write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON") as err:
        load_model(path)
    assert err.value.file == path / MODEL_FILE and "retrain" in str(err.value)
    assert str(tmp_path) not in str(err.value)  # messages name the file, never the server path


@pytest.mark.parametrize("name", list(WEIGHT_FILES))
def test_corrupt_weight_file(saved, tmp_path, name):
    _, src = saved[name]
    dst = tmp_path / name
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    (dst / WEIGHT_FILES[name]).write_bytes(b"\x00garbage\xff" * 10)
    with pytest.raises(ModelLoadError, match=WEIGHT_FILES[name].replace(".", r"\.")) as err:
        load_model(dst)
    assert "retrain" in str(err.value)
    (dst / WEIGHT_FILES[name]).unlink()
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(dst)


def test_tampered_state_and_format_version(saved, tmp_path):
    _, src = saved["drift"]
    meta = json.loads((src / MODEL_FILE).read_text())
    dst = tmp_path / "drift"
    dst.mkdir()
    del meta["state"]["pooled_mean"]
    (dst / MODEL_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="inconsistent saved state"):
        load_model(dst)
    meta["format_version"] = 999
    (dst / MODEL_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="format version 999"):
        load_model(dst)
    meta["format_version"] = FORMAT_VERSION
    meta["module"] = "os"
    (dst / MODEL_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="not a Stock Vision model module"):
        load_model(dst)


def test_loading_through_the_wrong_base_class(saved):
    _, path = saved["majority"]
    with pytest.raises(ModelLoadError, match="not a PriceModel"):
        PriceModel.load(path)
    assert isinstance(PatternModel.load(path), PatternModel)


def test_unfitted_models_refuse_to_predict_or_save(feature_windows, tmp_path):
    model = RidgePriceModel()
    with pytest.raises(NotFittedError, match="call fit"):
        model.predict(feature_windows[2])
    with pytest.raises(NotFittedError):
        model.save(tmp_path / "m")
