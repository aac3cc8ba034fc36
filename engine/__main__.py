"""`python -m engine` runs the baton CLI."""

from engine.cli import main

main()
