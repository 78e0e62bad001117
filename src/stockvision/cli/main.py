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
    stream_cmds,
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
app.add_typer(stream_cmds.stream_app, name="stream")


def _sentence(text: str) -> str:
    """Capitalised and ending with a full stop: every message the CLI prints is a sentence."""
    text = " ".join(str(text).split())
    if not text:
        return "Something went wrong."
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def error_payload(exc: BaseException) -> dict:
    """The JSON body of a failed command (``--json``): the error's code, messages and hint."""
    from stockvision.errors import StockVisionError, scrub_paths

    if isinstance(exc, StockVisionError):
        body = exc.payload()
        body["message"] = _sentence(scrub_paths(exc.message) or exc.code)
        body["message_vi"] = _sentence(scrub_paths(exc.message_vi) or exc.code)
        if body.get("hint"):
            body["hint"] = _sentence(body["hint"])
        return body
    first = (str(exc).splitlines() or [""])[0][:300]
    return {
        "error": "internal_error" if not is_user_error(exc) else "error",
        "message": _sentence(f"The command failed: {first}" if first else "The command failed"),
        "message_vi": "Lệnh không chạy được do một lỗi ngoài dự kiến.",
        "hint": "Run again with --verbose to see the traceback.",
    }


def main() -> None:
    """Console-script entry point with readable errors (JSON on stdout with ``--json``)."""
    import json

    as_json = "--json" in sys.argv
    try:
        code = app(standalone_mode=False)  # returns the exit code of typer.Exit(n)
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        if as_json:
            print(json.dumps({"error": "aborted", "message": "Aborted by the user."}))
        else:
            console.print("[red]Aborted.[/red]")
        sys.exit(130)
    except Exception as exc:  # the one place errors become messages
        # usage errors (click's, or the copy typer vendors): a message and exit code 2
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            if as_json:
                body = {"error": "usage", "message": _sentence(exc.format_message())}
                print(json.dumps(body, ensure_ascii=False))
            else:
                exc.show()
            sys.exit(exc.exit_code)
        if _state["verbose"] or "--verbose" in sys.argv or "-v" in sys.argv:
            console.print_exception()
        if as_json:
            print(json.dumps(error_payload(exc), ensure_ascii=False, default=str))
            sys.exit(1)
        body = error_payload(exc)
        kind = "Error" if is_user_error(exc) else "Something went wrong"
        console.print(f"[bold red]{kind}:[/bold red] {body['message']}")
        if body.get("hint"):
            console.print(body["hint"])
        sys.exit(1)


if __name__ == "__main__":
    main()
