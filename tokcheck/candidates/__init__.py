"""The candidates: every way of running the tokenizer that is judged against sentencepiece."""
