"""The exit codes of every command, and which of them each error of the family means.

Exit codes (contract): 0 every run completed; 1 some run did not complete; 2 usage,
manifest, configuration or authentication error (nothing triggered); 130 interrupted.

A command that catches a :class:`~hexbatch.errors.HexbatchError` says why in its own
words, and exits with :func:`exit_code` of it: the one place deciding what an error means
to a script or a scheduler reading the code.
"""

from __future__ import annotations

from typing import Final

from hexbatch.batch import PreflightError
from hexbatch.errors import ConfigurationError, HexAPIError, HexbatchError, ScenarioError
from hexbatch.manifest import ManifestError
from hexbatch.resume import NothingToRerun
from hexbatch.state import StateError

EXIT_OK: Final = 0
EXIT_FAILED_RUNS: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130

# The first row the error is an instance of decides; the last row catches the rest of the
# family. Every error reaching a command stopped it before any run was triggered, or a
# state store it needs failed: fix the input or the setup and run the same command again.
EXIT_CODES: Final[tuple[tuple[type[HexbatchError], int], ...]] = (
    # Asked to rerun what does not exist: doing nothing is the right outcome, not an error.
    (NothingToRerun, EXIT_OK),
    (ManifestError, EXIT_USAGE),
    (ScenarioError, EXIT_USAGE),
    (ConfigurationError, EXIT_USAGE),
    # A project unknown or unpublished, or a token Hex refuses: nothing was triggered.
    (PreflightError, EXIT_USAGE),
    (StateError, EXIT_USAGE),
    (HexAPIError, EXIT_USAGE),
    (HexbatchError, EXIT_USAGE),
)


def exit_code(error: HexbatchError) -> int:
    """The code a command exits with when ``error`` stops it."""
    return next(code for kind, code in EXIT_CODES if isinstance(error, kind))
