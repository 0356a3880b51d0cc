"""`python -m commands` runs the CLI."""

from commands.main import main

main()
