"""``python -m tsunagu``: the same command line as ``tsunagu``."""

from tsunagu.cli import main

main()
