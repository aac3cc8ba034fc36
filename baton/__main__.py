"""`python -m baton`: the `baton` command line, for a checkout without the console script."""

from baton.cli import main

main(prog_name="baton")
