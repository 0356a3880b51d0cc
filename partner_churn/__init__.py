"""partner-churn: CLI entry point and typed configuration shared by every stage."""
