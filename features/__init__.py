"""Data contract, point-in-time features and labels: the same functions in batch and in the service."""
