"""News and headline sentiment: ingestion, symbol tagging, tone, point-in-time weekly features.

Same layer as ``features``: it reads the store (``data``) and the listings (``market``) and is read
by the layers above (evaluation ablation, registry, chat, serving, CLI).
"""
