"""Allow ``python -m hexbatch``."""

from hexbatch.cli import main

main()
