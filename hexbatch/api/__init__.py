"""The Hex API over HTTP: the client, the typed answers, what a failure means, budgets.

:class:`~hexbatch.api.client.HexClient` implements the engine's
:class:`~hexbatch.engine.hexapi.HexService` protocol; the engine never imports this layer's
transport, only its value types.
"""
