"""The command line: ``hexbatch`` and its commands, the progress display and the live view.

The outermost layer: it parses arguments, resolves configuration, calls the use cases
(:mod:`hexbatch.batch`, :mod:`hexbatch.cancel`, the state store's reports) and maps their
errors to exit codes. Nothing below it imports it.
"""

from hexbatch.cli.main import cli, main

__all__ = ["cli", "main"]
