"""``/models/shadow``: the running A/B comparison of the challenger's shadow answers with the
champion's served ones, on realised outcomes (CRPS and log loss; ``stockvision.monitoring.shadow``).

Nothing a challenger answered is ever served; this only reports how it would have done.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from stockvision.serving.deps import ServiceDep
from stockvision.serving.routes.responses import COMMON_RESPONSES

router = APIRouter(tags=["models"])


class ArmVersions(BaseModel):
    price: str | None = None
    pattern: str | None = None


class ShadowPair(BaseModel):
    champion: ArmVersions
    challenger: ArmVersions
    sources: list[str]
    answers: int = Field(description="Answers both arms gave (the challenger's never served)")
    resolved: int = Field(description="Of them, how many have a realised 4-week outcome")
    symbols: int
    weeks: int
    first_answer: str
    last_answer: str
    champion_crps: float | None = None
    challenger_crps: float | None = None
    crps_change_pct: float | None = Field(
        default=None, description="Challenger's mean CRPS vs the champion's, % (negative: better)"
    )
    crps_weekly_t: float | None = Field(
        default=None, description="t statistic of the weekly mean CRPS differences"
    )
    champion_log_loss: float | None = None
    challenger_log_loss: float | None = None


class ShadowResponse(BaseModel):
    pairs: list[ShadowPair]
    note: str = (
        "Shadow scoring: the challenger answers the same live questions as the champion in the "
        "background; only the champion's answers are served. Scores use realised outcomes only."
    )


def _compare(service) -> ShadowResponse:
    from stockvision.data.store.shadow import ShadowStore
    from stockvision.monitoring.shadow import compare_shadow

    rows = ShadowStore(service.store).read()
    labels = service.store.read_labels(sorted(rows["symbol"].unique())) if len(rows) else None
    pairs = compare_shadow(rows, labels) if labels is not None else []
    return ShadowResponse(pairs=[ShadowPair(**p) for p in pairs])


@router.get("/models/shadow", response_model=ShadowResponse, responses=COMMON_RESPONSES)
async def shadow_comparison(service: ServiceDep) -> ShadowResponse:
    """Champion vs challenger on the live answers both gave, once their outcomes are known."""
    return await run_in_threadpool(_compare, service)
