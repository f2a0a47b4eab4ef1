"""The durable state store: batches, plans and attempts that survive crashes.

``StateStore(location)`` opens (or creates) a store, an SQLite file or a PostgreSQL
database; :meth:`StateStore.take_lease` makes one process the driver of a batch;
the ``record_*`` methods journal what the batch engine does, and the reading
methods rebuild runs, reports and history.
"""

from __future__ import annotations

from hexbatch.outcome import PlannedRun
from hexbatch.state.errors import StateError, StateLockedError
from hexbatch.state.leases import Lease, LeaseHeldError, LeaseLostError
from hexbatch.state.records import PLANNED, BatchInfo, BatchSummary, StoredRun
from hexbatch.state.schema import SCHEMA_VERSION
from hexbatch.state.store import StateStore

__all__ = [
    "PLANNED",
    "SCHEMA_VERSION",
    "BatchInfo",
    "BatchSummary",
    "Lease",
    "LeaseHeldError",
    "LeaseLostError",
    "PlannedRun",
    "StateError",
    "StateLockedError",
    "StateStore",
    "StoredRun",
]
