"""What the byte-level form (export --target transformers.js) costs an encode and a decode.

Times the batch encode and decode of both ../shared corpora (or ``--corpus`` files) with
sentencepiece, export's plain tokenizer and its byte-level form, in the Rust library, best of
``--repeat`` runs; and, where node and @huggingface/tokenizers are installed, both forms in
transformers.js (one request each way, the time of the round trip through the bridge).

    python benchmarks/bytelevel.py                                 # fixtures/neox-3.6b
    python benchmarks/bytelevel.py --model fixtures/bilingual-4b
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from pathlib import Path

from timing import best

from tokcheck.candidates import jsruntime
from tokcheck.convert import bytelevel
from tokcheck.convert.converter import build_tokenizer
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", default=str(REPO / "fixtures/neox-3.6b"))
    parser.add_argument("--corpus", action="append", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    corpora = args.corpus or sorted((SHARED / "corpora").glob("*.txt"))
    lines = [line for path in corpora for line in path.read_text("utf-8").splitlines()]
    model = SentencePieceModel.load(resolve(args.model).model_file)
    plain = build_tokenizer(model)
    level = bytelevel.byte_level(plain, model)
    sp = model.processor
    ids = sp.encode(lines)
    print(f"{args.model}: {len(lines)} lines, {sum(map(len, ids))} ids")
    rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("sentencepiece", lambda: sp.encode(lines), lambda: sp.decode(ids)),
    ]
    for name, tok in (("plain export", plain), ("byte-level form", level)):
        rows.append(
            (
                f"{name} (tokenizers)",
                partial(tok.encode_batch, lines, add_special_tokens=False),
                partial(tok.decode_batch, ids, skip_special_tokens=False),
            )
        )
    try:
        jsruntime.require()
        for name, tok in (("plain export", plain), ("byte-level form", level)):
            js = jsruntime.NodeTokenizer(tok.to_str(), {})
            rows.append(
                (
                    f"{name} (transformers.js)",
                    partial(js.request, encode=lines),
                    partial(js.request, decode=ids),
                )
            )
    except jsruntime.RuntimeUnavailable as e:
        print(f"transformers.js not timed: {e}")
    for name, encode, decode in rows:
        print(
            f"{name:34} encode {best(encode, args.repeat) * 1000:8.1f} ms"
            f"   decode {best(decode, args.repeat) * 1000:8.1f} ms"
        )


if __name__ == "__main__":
    main()
