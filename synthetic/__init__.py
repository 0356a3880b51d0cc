"""Synthetic partner programs with a known latent truth, for demos, tests and honest backtests."""
