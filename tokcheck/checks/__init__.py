"""Static checks: the model against its profile and sanity rules, a GGUF's metadata, round trips."""
