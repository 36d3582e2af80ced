"""Benchmarks; ``python -m bench`` runs them all and rewrites BENCHMARKS.md."""
