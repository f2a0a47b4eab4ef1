"""Suite-wide test setup."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import aioresponses.core
from aiohttp import ClientResponse


class _CompatibleClientResponse(ClientResponse):
    """aioresponses 0.7.x builds responses without the ``stream_writer`` that aiohttp 3.14
    requires; supply a finished writer so fake responses construct as real ones do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(*args, **kwargs)


aioresponses.core.ClientResponse = _CompatibleClientResponse  # type: ignore[misc]
