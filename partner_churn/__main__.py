"""`python -m partner_churn` runs the CLI."""

from partner_churn.cli import main

main()
