"""Chat layer: Vietnamese/English understanding (text, symbols, intents, context) and answers.

Entry point: ``stockvision.chat.engine.ChatEngine``.
"""
