"""``stockvision news import|list|sentiment``: news in, headlines out, the tone model trained."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockvision.cli._common import console, out, print_json, progress_bar
from stockvision.config import get_settings

news_app = typer.Typer(help="News headlines, their symbols and their tone.", no_args_is_help=True)
sentiment_app = typer.Typer(help="The headline sentiment model.", no_args_is_help=True)
news_app.add_typer(sentiment_app, name="sentiment")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _scorer(settings, enabled: bool):
    if not enabled:
        return None
    from stockvision.registry.sentiment import load_scorer

    return load_scorer(settings)


@news_app.command("import")
def import_news(
    path: Annotated[
        Path | None, typer.Argument(help="A .jsonl news file or an RSS/Atom XML file.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="'vnstock': company news of --symbols.")
    ] = None,
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Comma-separated symbols (vnstock).")
    ] = None,
    score: Annotated[
        bool, typer.Option("--score/--no-score", help="Score new headlines with the champion.")
    ] = True,
    publish: Annotated[
        str | None,
        typer.Option("--publish", help="Stream bus URL (nats://..., kafka://...) for new items."),
    ] = None,
    index_memory: Annotated[
        bool,
        typer.Option(
            "--index-memory",
            help="Embed the newest items into the agent's memory now (when no API holds it; a "
            "running API does it by itself within SV_AGENT_NEWS_POLL_SECONDS).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import news (deduplicated; importing the same file again stores nothing new)."""
    from stockvision.data.store import Store
    from stockvision.news.repository import NewsRepository
    from stockvision.news.sources import VnstockNewsClient, read_file
    from stockvision.news.tagging import SymbolTagger

    settings = get_settings()
    if (path is None) == (source is None):
        raise typer.BadParameter("give a FILE or --source vnstock (one of them)")
    if source is not None and source != "vnstock":
        raise typer.BadParameter("the only online news source is 'vnstock'")
    items, errors, label = [], [], ""
    if path is not None:
        items, errors = read_file(path)
        label = path.name
    else:
        wanted = [s.strip().upper() for s in (symbols or "").split(",") if s.strip()]
        wanted = wanted or settings.symbols()
        client = VnstockNewsClient(source=settings.vnstock_source)
        for sym in wanted:
            got, errs = client.fetch(sym)
            items.extend(got)
            errors.extend(errs)
        label = "vnstock"
    repo = NewsRepository(Store.from_settings(settings))
    report = repo.add(
        items, source=label, errors=errors, tagger=SymbolTagger(), scorer=_scorer(settings, score)
    )
    published = 0
    if publish and report.new_keys:
        import asyncio

        from stockvision.stream.bus import open_bus
        from stockvision.stream.news_feed import publish_news

        async def _publish() -> int:
            async with open_bus(publish) as bus:
                return len(await publish_news(bus, repo.by_keys(report.new_keys)))

        published = asyncio.run(_publish())
    memory = _index_memory(settings, repo.store) if index_memory else None
    if as_json:
        print_json({**report.to_dict(), "published": published, "memory": memory})
    else:
        console.print(report.summary(), markup=False, highlight=False)
        if publish:
            console.print(f"Published {published} messages on the news stream.")
        if memory is not None:
            console.print(
                f"Agent memory: {memory.get('embedded', 0)} embedded, {memory.get('already', 0)} "
                f"already there, {memory.get('over_cap', 0)} over the cap "
                f"(SV_AGENT_NEWS_INDEX_MAX={settings.agent_news_index_max})"
                + (f"; {memory['error']}" if memory.get("error") else ""),
                markup=False,
                highlight=False,
            )


def _index_memory(settings, store) -> dict:
    """One indexing pass of the stored news into the agent's memory (see chat.news_index)."""
    from dataclasses import asdict
    from pathlib import Path as _Path

    from stockvision.chat.memory import Memory
    from stockvision.chat.news_index import NewsIndexer

    try:
        memory = Memory.from_settings(settings)
    except Exception as exc:  # the local store is held by a running API: it will index them
        return {"error": f"memory not opened ({str(exc)[:160]}); a running API indexes the items"}
    try:
        progress_path = _Path(settings.home) / "memory" / "news_index.json"
        indexer = NewsIndexer(
            memory, store, max_items=settings.agent_news_index_max, progress_path=progress_path
        )
        return asdict(indexer.sync())
    finally:
        memory.close()


news_app.command("ingest", help="Same as 'news import'.")(import_news)


@news_app.command("list")
def list_news(
    symbol: Annotated[str, typer.Argument(help="Ticker, e.g. HPG.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=200)] = 10,
    as_json: JsonOpt = False,
) -> None:
    """The latest headlines about SYMBOL with their tone, time and link."""
    from stockvision.data.store import Store
    from stockvision.news.views import TONE_VI, headlines

    settings = get_settings()
    items = headlines(Store.from_settings(settings), symbol, limit=limit)
    if as_json:
        print_json({"symbol": symbol.upper(), "items": [h.to_dict() for h in items]})
        return
    if not items:
        console.print(
            f"No news stored about {symbol.upper()} (import some: stockvision news import FILE)."
        )
        return
    for h in items:
        tone = (
            f"{h.tone} ({TONE_VI[h.tone]}, p={max(h.p_negative, h.p_neutral, h.p_positive):.2f})"
            if h.tone
            else "tone not scored"
        )
        out.print(
            f"{h.published_at:%Y-%m-%d %H:%M} UTC  [{tone}]  {h.title}  ({h.source})",
            markup=False,
            highlight=False,
        )
        if h.link:
            out.print(f"    {h.link}", markup=False, highlight=False)


@sentiment_app.command("train")
def train(
    labelled: Annotated[Path, typer.Argument(help="CSV with columns title,label.")],
    models: Annotated[
        str | None, typer.Option("--models", help="Comma-separated: wordlist,tfidf_char,e5.")
    ] = None,
    folds: Annotated[int, typer.Option("--folds", min=2, max=20)] = 5,
    register: Annotated[bool, typer.Option("--register/--no-register")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Compare the sentiment models by cross-validation; register and serve the best."""
    from stockvision.registry.sentiment import train_sentiment

    settings = get_settings()
    names = [m.strip() for m in models.split(",")] if models else None
    result = train_sentiment(settings, labelled, models=names, folds=folds, register=register)
    if as_json:
        print_json(result.to_dict())
        return
    out.print(f"{'model':<12} {'macro-F1':>14} {'log loss':>9} {'ECE':>6}", markup=False)
    for r in result.table:
        out.print(
            f"{r['model']:<12} {r['macro_f1']:.3f} ± {r['macro_f1_std']:.3f} {r['log_loss']:>9.3f} "
            f"{r['ece']:>6.3f}",
            markup=False,
        )
    console.print(f"Chosen: {result.chosen}; version {result.version}; {result.reason}.")


@sentiment_app.command("score")
def score(
    rescore: Annotated[bool, typer.Option("--rescore", help="Score every headline again.")] = False,
) -> None:
    """Score stored headlines that have no tone yet with the champion sentiment model."""
    from stockvision.data.store import Store
    from stockvision.errors import RegistryError
    from stockvision.news.repository import NewsRepository

    settings = get_settings()
    scorer = _scorer(settings, True)
    if scorer is None:
        raise RegistryError(
            "No sentiment model is registered.",
            "Train one: stockvision news sentiment train LABELLED.csv",
            message_vi="Chưa có mô hình cảm xúc tin tức.",
        )
    with progress_bar() as bar:
        n = NewsRepository(Store.from_settings(settings)).set_tones(
            scorer, rescore=rescore, progress=bar.stage("scoring headlines") if bar else None
        )
    console.print(f"Scored {n} headlines with {scorer.model_id}.")


@news_app.command("ablation")
def ablation(as_json: JsonOpt = False) -> None:
    """Walk-forward ablation of the news features on the store's prices and news, where they overlap."""
    from stockvision.data.store import Store
    from stockvision.evaluation.news_ablation import ablation_on_store

    settings = get_settings()
    info = ablation_on_store(
        Store.from_settings(settings),
        half_life_weeks=settings.news_half_life_weeks,
        horizon=settings.horizon_weeks,
    )
    if as_json:
        print_json(info)
        return
    console.print(
        f"prices {info.get('prices', '-')}, news {info.get('news', '-')}, "
        f"{info['overlap_weeks']} overlapping weeks."
    )
    result = info["result"]
    if result is None:
        console.print(f"No ablation: {info['reason']}.", markup=False)
        return
    console.print(
        f"CRPS without news {result['crps_base']:.5f}, with news {result['crps_news']:.5f} "
        f"({result['folds']} folds). {'ADOPT' if result['adopt'] else 'Do not adopt'}: "
        f"{result['reason']}.",
        markup=False,
    )
