"""sentencepiece's components rebuilt as ``tokenizers`` components: the converter."""
