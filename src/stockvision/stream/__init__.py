"""Real-time: a live market stream on a bus, live features and predictions, WebSocket push, alerts.

Above the pipeline (it calls the prediction core and the store), below serving (which mounts its
WebSocket and alert routes). Nothing here blocks the event loop for long: numpy work is vectorised
across symbols and done per market minute, not per tick.
"""
