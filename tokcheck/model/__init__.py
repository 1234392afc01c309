"""Reading the model: the sentencepiece file, the Hugging Face files beside it, GGUFs, profiles."""
