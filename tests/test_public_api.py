"""The public API is exactly what hexbatch/__init__ lists."""

from __future__ import annotations

import types

import hexbatch


def test_all_lists_every_public_name_and_nothing_else() -> None:
    """Nothing is exported by accident and nothing public is forgotten in __all__."""
    public = {
        name
        for name, value in vars(hexbatch).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    public.discard("annotations")

    assert sorted(hexbatch.__all__) == sorted(public | {"__version__"})
