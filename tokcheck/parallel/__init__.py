"""Parallel execution: the judging loop, corpora cut in parts, the local and Dask engines."""
