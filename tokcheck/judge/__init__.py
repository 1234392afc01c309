"""The judge: how a candidate's output on a line, and its stream, compare with sentencepiece's."""
