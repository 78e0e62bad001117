"""MLflow "model from code" wrapper, so registered versions also work with ``mlflow.pyfunc.load_model``.

No pickle is involved: MLflow stores this file, and the model's own files (JSON + numpy/LightGBM/torch
weights) are an artifact that ``load_context`` reads with ``stockvision.models.base.load_model``.

Input: one row per symbol and week (columns ``symbol``, ``week_end``, the feature columns and ``raw_close``)
covering at least the last ``seq_len`` weeks of each symbol. Output: one row per symbol for its latest week.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class StockVisionPyfunc(PythonModel):
    def load_context(self, context) -> None:
        from stockvision.models.base import load_model

        self.model = load_model(context.artifacts["model_dir"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from stockvision.features import FEATURES
        from stockvision.features.dataset import DatasetBuilder

        frame = model_input.copy()
        frame["week_end"] = pd.to_datetime(frame["week_end"])
        frame = frame.set_index(["symbol", "week_end"]).sort_index()
        labels = pd.DataFrame(index=frame.index)
        labels["close"] = np.nan
        labels["raw_close"] = frame.get("raw_close", np.nan)
        for col in ("future_return", "future_log_return", "price_target_true"):
            labels[col] = np.nan
        labels["pattern"] = pd.Series(pd.NA, index=frame.index, dtype="object")
        seq_len = int(getattr(self.model, "seq_len", 8) or 8)
        # the columns the model was trained on: FEATURES, plus news ones if it was trained with them
        extra = [c for c in getattr(self.model, "features_", []) if c not in FEATURES]
        cols = [*FEATURES, *extra]
        window = DatasetBuilder(frame[cols], labels, seq_len=seq_len, extra_features=extra).latest()
        out = pd.DataFrame(
            {
                "symbol": window.X.index.get_level_values(0),
                "week_end": window.X.index.get_level_values(1),
            }
        )
        if self.model.kind == "price":
            pred = self.model.predict(window)
            low, high = self.model.predict_interval(window)
            raw = window.labels["raw_close"].to_numpy(dtype=float)
            out["pred_log_return"] = pred
            out["price_target"] = raw * np.exp(pred)
            out["low"] = raw * np.exp(low)
            out["high"] = raw * np.exp(high)
        else:
            probs = self.model.predict_proba(window)
            out["p_down"], out["p_sideways"], out["p_up"] = probs[:, 0], probs[:, 1], probs[:, 2]
            out["pattern"] = np.array(["DOWN", "SIDEWAYS", "UP"])[probs.argmax(axis=1)]
        return out


mlflow.models.set_model(StockVisionPyfunc())
