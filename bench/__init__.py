"""Benchmarks of the pipeline's speed and memory; their latest figures are in docs/benchmarks.md."""
