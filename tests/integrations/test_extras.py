"""The orchestrator tests skip without their extra, except where CI requires it."""

from __future__ import annotations

import pytest

from tests.integrations.extras import require

MISSING = "hexbatch_no_such_extra"


def test_a_missing_extra_skips_its_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEXBATCH_REQUIRE_EXTRAS", raising=False)

    with pytest.raises(pytest.skip.Exception, match=f"the {MISSING} extra is not installed"):
        require(MISSING)


def test_a_missing_extra_fails_where_it_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEXBATCH_REQUIRE_EXTRAS", "1")

    with pytest.raises(ModuleNotFoundError, match=MISSING):
        require(MISSING)


def test_an_installed_module_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEXBATCH_REQUIRE_EXTRAS", "1")

    assert require("json").__name__ == "json"
