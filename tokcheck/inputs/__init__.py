"""What compare judges: probes, derived and exhaustive strings, corpora, prompts, injections."""
