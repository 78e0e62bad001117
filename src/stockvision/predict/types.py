"""The prediction type and its parts: what the API, batch step, chat, CLI and stream all return."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, computed_field

DISCLAIMER_VI = "Thông tin tham khảo từ mô hình thống kê, không phải khuyến nghị đầu tư."
DISCLAIMER_EN = "Statistical model output for information only, not investment advice."


class PatternProbabilities(BaseModel):
    up: float = Field(ge=0, le=1)
    down: float = Field(ge=0, le=1)
    sideways: float = Field(ge=0, le=1)


class PriceInterval(BaseModel):
    low: float = Field(description="Lower bound of the target, VND")
    high: float = Field(description="Upper bound of the target, VND")
    coverage: float = Field(description="Nominal coverage of the interval, e.g. 0.8")
    measured_coverage: float | None = Field(
        default=None,
        description=(
            "Coverage measured out of sample (see measured_on); null when it could not be measured"
        ),
    )
    measured_on: str | None = Field(
        default=None,
        description=(
            "Where measured_coverage comes from: 'walk_forward' (every test fold) or 'holdout' "
            "(a short history: the last weeks held out once); null when not measured"
        ),
    )

    measured_coverage_similar: float | None = Field(
        default=None,
        description=(
            "Coverage measured walk-forward on forecasts whose predicted scale was like this "
            "one's (the same scale bin, see similar_scale_quantiles); null when not measured"
        ),
    )
    similar_scale_quantiles: tuple[float, float] | None = Field(
        default=None,
        description=(
            "The bin of measured_coverage_similar, as quantiles of the predicted scale over the "
            "test rows: (0, 0.01) = the calmest 1 % of forecasts"
        ),
    )
    similar_rows: int | None = Field(
        default=None, description="Test rows behind measured_coverage_similar"
    )

    @computed_field(description="Lower bound in thousand VND, for display")  # type: ignore[prop-decorator]
    @property
    def low_k(self) -> float:
        return round(self.low / 1000, 2)

    @computed_field(description="Upper bound in thousand VND, for display")  # type: ignore[prop-decorator]
    @property
    def high_k(self) -> float:
        return round(self.high / 1000, 2)


class Driver(BaseModel):
    """One feature that pushed the prediction, for the 'why' answer."""

    feature: str
    value: float | None
    contribution: float = Field(description="Signed contribution to the predicted log return")
    description_vi: str
    description_en: str


class ReturnDistributionInfo(BaseModel):
    """The served predictive distribution of the 4-week log return (a location-scale Student-t).

    The target (median), every interval and the three probabilities are read off it, so they
    cannot contradict each other.
    """

    loc: float = Field(description="Median 4-week log return")
    scale: float = Field(description="Scale of the log return (Student-t / normal)")
    df: float | None = Field(description="Tail degrees of freedom; null = normal tails")


class ServingModel(BaseModel):
    """Which model speaks, in plain words, with its one-line measured skill."""

    name: str = Field(description="Catalogue name, e.g. vol_random_walk")
    label_vi: str
    label_en: str
    baseline: bool = Field(description="True when a naive baseline is served (nothing beat it)")
    crps_skill: float | None = Field(
        default=None, description="Walk-forward CRPS skill vs the constant-width random walk"
    )
    crps_dm_pvalue: float | None = Field(default=None, description="Its Diebold-Mariano p-value")
    skill_vi: str | None = None
    skill_en: str | None = None
    walk_forward: bool | None = Field(
        default=None,
        description=(
            "True when the model was validated walk-forward; False when that was skipped (too "
            "short a history, or this symbol's history is shorter than the model's features "
            "need); limits_vi / limits_en then say why and what was measured instead"
        ),
    )
    limits_vi: str | None = None
    limits_en: str | None = None


class Caveat(BaseModel):
    """A measured limit of this one answer (shown with it in every channel)."""

    code: str = Field(
        description=(
            "'narrow_range_undercovers' (ranges this narrow held the outcome less often than "
            "their nominal coverage), 'wide_range_overcovers' (more often: a cautious range); "
            "'range_undercovers' / 'range_overcovers' for the other side of the median width; "
            "'live_coverage_departed' (since the model went live, ranges this size held the "
            "outcome at a rate that left the walk-forward figure: monitoring's coverage by width)"
        )
    )
    message_vi: str
    message_en: str
    measured: float | None = Field(default=None, description="The measured figure quoted")


class ModelVersions(BaseModel):
    price: str | None = None
    pattern: str | None = None


class Prediction(BaseModel):
    symbol: str
    exchange: str
    company_name: str
    prediction_date: date = Field(description="Week end the prediction is made at (data cut-off)")
    target_date: date = Field(description="Approximate date the target refers to (4 weeks ahead)")
    data_as_of: date
    last_close: float = Field(description="Last raw close, VND")
    last_close_k: float = Field(
        description="Last close for display: thousand VND, or points for an index (see unit)"
    )
    price_target: float = Field(description="Target price, VND (points for an index)")
    price_target_k: float = Field(
        description="Target for display: thousand VND, or points for an index (see unit)"
    )
    unit: str = Field(
        default="VND", description="VND for shares and funds, points for a market index"
    )
    interval: PriceInterval
    interval_50: PriceInterval | None = Field(default=None, description="Central 50 % interval")
    interval_95: PriceInterval | None = Field(default=None, description="Central 95 % interval")
    expected_return: float = Field(description="Median 4-week simple return, fraction")
    pattern: str = Field(description="UP, DOWN or SIDEWAYS")
    probabilities: PatternProbabilities
    confidence: float = Field(description="Calibrated probability of the predicted pattern")
    base_rates: PatternProbabilities | None = Field(
        default=None, description="Class frequencies of the training window (the reference)"
    )
    direction_supported: bool = Field(
        default=False,
        description=(
            "True only when the measured evidence supports a direction (an arrow is shown): the "
            "model's rank IC interval is above 0 and its UP/DOWN edge exceeds the noise"
        ),
    )
    distribution: ReturnDistributionInfo | None = None
    serving_model: ServingModel | None = None
    rank_score: float | None = Field(
        default=None, description="In a ranking: the score the list is ordered by"
    )
    rank_basis: str | None = Field(
        default=None,
        description=(
            "In a ranking: 'model' (the model's median return relative to the cross-section) or "
            "'momentum_12_1' (the model gives every stock the same return, so the list is ordered "
            "by the 12-1 month momentum factor, the best single factor measured)"
        ),
    )
    drivers: list[Driver] = Field(default_factory=list)
    caveats: list[Caveat] = Field(
        default_factory=list, description="Measured limits of this answer, in both languages"
    )
    model_versions: ModelVersions
    simulated: bool = Field(description="True when the data behind it is synthetic")
    disclaimer: str = DISCLAIMER_EN
    disclaimer_vi: str = DISCLAIMER_VI
    generated_at: datetime | None = None

    def shown_caveats(self) -> tuple[tuple[str, float | None], ...]:
        """The caveats shown with this answer as the store keeps them (code, measured figure),
        sorted: an answer whose caveats differ from the stored ones is stored again."""
        return tuple(sorted((c.code, c.measured) for c in self.caveats))

    def stored_key(self) -> tuple:
        """What makes a served prediction unique in the store (symbol, date, model versions)."""
        return (
            self.symbol,
            self.prediction_date,
            self.model_versions.price,
            self.model_versions.pattern,
        )

    def to_record(self, source: str) -> dict:
        """The flat row the store's ``predictions`` table holds (``source``: api, batch, chat...)."""
        from datetime import UTC

        return {
            "symbol": self.symbol,
            "prediction_date": self.prediction_date,
            "target_date": self.target_date,
            "created_at": self.generated_at or datetime.now(UTC),
            "last_close": self.last_close,
            "price_target": self.price_target,
            "interval_low": self.interval.low,
            "interval_high": self.interval.high,
            "expected_return": self.expected_return,
            "return_scale": None if self.distribution is None else self.distribution.scale,
            "caveats": [{"code": c.code, "measured": c.measured} for c in self.caveats],
            "pattern": self.pattern,
            "p_up": self.probabilities.up,
            "p_down": self.probabilities.down,
            "p_sideways": self.probabilities.sideways,
            "confidence": self.confidence,
            "price_model_version": self.model_versions.price,
            "pattern_model_version": self.model_versions.pattern,
            "simulated": self.simulated,
            "source": source,
        }
