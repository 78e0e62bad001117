"""The ``stockvision`` command line: one entry point for investors and operators.

User mistakes print a readable message (no traceback); ``--verbose`` shows the traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from stockvision.cli import (
    data_cmds,
    features_cmds,
    model_cmds,
    news_cmds,
    pipeline_cmds,
    serve_cmds,
)
from stockvision.cli._common import console
from stockvision.errors import is_user_error

app = typer.Typer(
    name="stockvision",
    help="Stock Vision: one-month-ahead price targets and patterns for Vietnamese stocks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_state = {"verbose": False}


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks and debug logs.")
    ] = False,
) -> None:
    """Stock Vision command line."""
    _state["verbose"] = verbose
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr)


app.command("ingest")(data_cmds.ingest)
app.add_typer(data_cmds.data_app, name="data")
app.add_typer(features_cmds.features_app, name="features")
app.command("evaluate")(model_cmds.evaluate)
app.add_typer(model_cmds.models_app, name="models")
app.add_typer(pipeline_cmds.pipeline_app, name="pipeline")
app.command("monitor")(pipeline_cmds.monitor)
app.command("predict")(serve_cmds.predict)
app.command("serve")(serve_cmds.serve)
app.add_typer(news_cmds.news_app, name="news")


def main() -> None:
    """Console-script entry point with readable errors."""
    try:
        app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("[red]Aborted.[/red]")
        sys.exit(130)
    except Exception as exc:  # the one place errors become messages
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if _state["verbose"] or "--verbose" in sys.argv or "-v" in sys.argv:
            console.print_exception()
        kind = "Error" if is_user_error(exc) else f"Unexpected error ({type(exc).__name__})"
        console.print(f"[bold red]{kind}:[/bold red] {exc}")
        if not is_user_error(exc):
            console.print("Run again with --verbose to see the traceback.")
        sys.exit(1)


if __name__ == "__main__":
    main()
