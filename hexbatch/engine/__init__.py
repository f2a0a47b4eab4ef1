"""The batch engine: schedule triggers, follow runs, retry, time out, record outcomes."""

from __future__ import annotations

from hexbatch.engine.context import EngineSettings
from hexbatch.engine.control import Control
from hexbatch.engine.core import Engine, Snapshot, longest_first
from hexbatch.engine.journal import Journal, NullJournal
from hexbatch.engine.work import WorkItem

__all__ = [
    "Control",
    "Engine",
    "EngineSettings",
    "Journal",
    "NullJournal",
    "Snapshot",
    "WorkItem",
    "longest_first",
]
