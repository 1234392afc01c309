"""What cutting whole pre-tokens costs a BPE export's encode (see tokcheck.convert.bpe.Hazards).

A BPE model with user-defined symbols whose control, byte or never-formed names have every
character pair inside a piece gets one anchored pre-tokeniser step per span of the longest
such name. This times the exported tokenizer's batch encode of both ../shared corpora with
and without those steps, beside sentencepiece's, best of ``--repeat`` runs.

    python benchmarks/whole_cut.py                        # InternLM's 103k BPE in ../shared
    python benchmarks/whole_cut.py --model path/to/bpe.model

The tokenizer without the steps is not exact; it is there only to price them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from timing import best

from tokcheck.convert import bpe
from tokcheck.convert.converter import Converter
from tokcheck.testing import load

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(SHARED / "published-models/internlm-V7_sft.model"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    lines = [
        line
        for name in ("botchan.txt", "wagahaiwa_nekodearu.txt")
        for line in (SHARED / "corpora" / name).read_text(encoding="utf-8").splitlines()
    ]
    _, model = load(args.model)
    converter = Converter(model)
    hazards = converter.hazards
    tokenizer = converter.build()
    steps = max((len(parts) for _, parts in hazards.whole), default=1) - 1
    print(
        f"{args.model}: {len(hazards.whole)} names cut whole, {steps} step(s); {len(lines)} lines"
    )
    sp = model.processor
    print(f"sentencepiece         {best(lambda: sp.encode(lines), args.repeat) * 1000:8.1f} ms")
    print(
        f"export                {best(lambda: tokenizer.encode_batch(lines), args.repeat) * 1000:8.1f} ms"
    )
    tokenizer.pre_tokenizer = bpe.pre_tokenizer(converter.proto, hazards._replace(whole=()))
    print(
        f"export without steps  {best(lambda: tokenizer.encode_batch(lines), args.repeat) * 1000:8.1f} ms"
    )


if __name__ == "__main__":
    main()
