"""MLflow "model from code" wrapper of the news sentiment model (no pickle: JSON + npz files).

Input: a frame with a ``title`` column. Output: ``tone`` and ``p_negative, p_neutral, p_positive``.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class SentimentPyfunc(PythonModel):
    def load_context(self, context) -> None:
        from stockvision.news.sentiment import load_sentiment_model

        self.model = load_sentiment_model(context.artifacts["model_dir"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from stockvision.news.sentiment import TONES

        titles = model_input["title"].astype(str).tolist()
        proba = self.model.predict_proba(titles)
        out = pd.DataFrame(proba, columns=[f"p_{t}" for t in TONES])
        out.insert(0, "tone", [TONES[i] for i in proba.argmax(axis=1)])
        return out


mlflow.models.set_model(SentimentPyfunc())
