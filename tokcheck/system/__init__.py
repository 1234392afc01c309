"""Plumbing every stage uses: atomic output files, user paths, signals."""
