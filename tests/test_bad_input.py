"""Malformed input never escapes as a traceback: the library raises a TokcheckError or reports a
failed check, and what reaches stdout is strict JSON.

Models whose piece names are not UTF-8 come from fixtures/broken/invalid-utf8-*; variants that
need a second edit are built here under ``tmp_path`` with the same placeholder trick as
fixtures/build.py (protobuf refuses to set such a string, so a same-length placeholder is set
and replaced in the serialized bytes).
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sentencepiece as spm

# The generated pb2 module defines its classes at run time, out of mypy's sight.
from sentencepiece.sentencepiece_model_pb2 import ModelProto

from tokcheck.checks.rules import run_checks
from tokcheck.errors import CorpusError, ModelFileError
from tokcheck.inputs.corpus import check_corpora
from tokcheck.model.profiles import Profile
from tokcheck.model.proto import SentencePieceModel, proto_text
from tokcheck.model.resolve import resolve
from tokcheck.report.output import print_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = FIXTURES / "tiny-neox" / "spiece.model"
# fixtures/broken/invalid-utf8-piece: piece 899 is "耒藧熝" cut one byte short.
CUT = b"\xe8\x80\x92\xe8\x97\xa7\xe7\x86"
CUT_SHOWN = "耒藧\\xe7\\x86"


def _not_utf8(source: Path, *edits: tuple[bytes, Callable[[ModelProto, str], None]]) -> bytes:
    """``source`` with each edit setting its bytes, through a same-length placeholder.

    Each byte string must be at least 3 bytes long, so that its placeholder is unique.
    """
    proto = ModelProto()
    proto.ParseFromString(source.read_bytes())
    placeholders: dict[bytes, bytes] = {}
    for n, (raw, change) in enumerate(edits, start=1):
        # Unlikely in a serialized model; the count check below makes sure.
        text = "\x7f" * (len(raw) - 1) + chr(0x40 + n)
        change(proto, text)
        placeholders[text.encode()] = raw
    data: bytes = proto.SerializeToString()
    for placeholder, raw in placeholders.items():
        assert data.count(placeholder) == 1
        data = data.replace(placeholder, raw)
    return data


def _rename(index: int) -> Callable[[ModelProto, str], None]:
    def change(proto: ModelProto, name: str) -> None:
        proto.pieces[index].piece = name

    return change


def _write(tmp_path: Path, data: bytes, name: str = "odd.model") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- what sentencepiece and protobuf do with such a model (why tokcheck escapes) ---------------


def test_protobuf_returns_bytes_and_sentencepiece_raises() -> None:
    data = (FIXTURES / "broken" / "invalid-utf8-piece" / "spiece.model").read_bytes()
    proto = ModelProto()
    proto.ParseFromString(data)
    raw: str | bytes = proto.pieces[899].piece
    assert raw == CUT
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(data)
    with pytest.raises(UnicodeDecodeError):
        sp.id_to_piece(899)
    with pytest.raises(UnicodeDecodeError):
        sp.decode([899])
    assert sp.decode([899], out_type=bytes) == CUT


# --- proto_text: the one escape --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("▁吾輩", "▁吾輩"),
        (CUT, CUT_SHOWN),
        (b"<\xff>", "<\\xff>"),
        # UTF-8-encoded surrogates and overlong forms are not UTF-8 either.
        (b"\xed\xa0\x80", "\\xed\\xa0\\x80"),
        (b"\xc0\x80", "\\xc0\\x80"),
    ],
    ids=["text", "cut-character", "latin-1", "surrogate", "overlong"],
)
def test_proto_text(value: str | bytes, text: str) -> None:
    assert proto_text(value) == text
    text.encode("utf-8")  # never a lone surrogate


# --- the model and its summary ---------------------------------------------------------------


def test_invalid_piece_summary(broken_dir: Callable[[str], Path]) -> None:
    model = SentencePieceModel.load(broken_dir("invalid-utf8-piece") / "spiece.model")
    assert model.pieces[899] == CUT_SHOWN
    assert all(isinstance(p, str) for p in model.pieces)
    s = model.summary()
    assert (s.invalid_utf8_pieces, s.unk_surface_invalid_utf8) == ((899,), False)
    assert s.processor_error is None
    assert s.whitespace_encodings == {"\n": ["<0x0A>"], "\t": ["<0x09>"], "  ": ["▁", "▁"]}


def test_invalid_user_symbol_summary(broken_dir: Callable[[str], Path]) -> None:
    s = SentencePieceModel.load(broken_dir("invalid-utf8-user-symbol") / "spiece.model").summary()
    assert (s.invalid_utf8_pieces, s.user_defined_symbols) == ((999,), ("<\\xff>",))
    assert s.piece_types["user_defined"] == 1


def test_invalid_unk_surface_summary(broken_dir: Callable[[str], Path]) -> None:
    s = SentencePieceModel.load(broken_dir("invalid-utf8-unk-surface") / "spiece.model").summary()
    assert (s.invalid_utf8_pieces, s.unk_surface_invalid_utf8) == ((), True)


def test_special_and_control_pieces_escaped(tmp_path: Path) -> None:
    # unk, a control symbol, and two copies of one invalid name.
    path = _write(
        tmp_path,
        _not_utf8(
            TINY,
            (b"[\xffUNK]", _rename(1)),
            (b"<\xfes>", _rename(2)),
            (b"\xf0\x9f!", _rename(500)),
            (b"\xf0\x9f!", _rename(501)),
        ),
    )
    model = SentencePieceModel.load(path)
    s = model.summary()
    assert (s.unk_piece, s.bos_piece) == ("[\\xffUNK]", "<\\xfes>")
    assert s.control_symbols == ("[PAD]", "<\\xfes>", "</s>")
    assert s.duplicate_pieces == ("\\xf0\\x9f!",)
    assert s.invalid_utf8_pieces == (1, 2, 500, 501)
    # sentencepiece refuses the duplicate, and its message quotes the bytes: one escaped line.
    assert s.processor_error is not None
    assert "INTERNAL: \\xf0\\x9f! is already defined." in s.processor_error
    with pytest.raises(ModelFileError, match="sentencepiece refuses to load the model"):
        _ = model.processor


def test_escaped_name_never_equals_a_literal_one(tmp_path: Path) -> None:
    # Piece 500 is spelled with a literal backslash; piece 501 holds the byte it would escape.
    path = _write(tmp_path, _not_utf8(TINY, (b"ab\xff", _rename(501))))
    proto = ModelProto()
    proto.ParseFromString(path.read_bytes())
    proto.pieces[500].piece = "ab\\xff"
    path.write_bytes(proto.SerializeToString())
    s = SentencePieceModel.load(path).summary()
    assert s.duplicate_pieces == ()
    assert s.invalid_utf8_pieces == (501,)


def test_require_text(broken_dir: Callable[[str], Path]) -> None:
    SentencePieceModel.load(TINY).require_text("compare tokenizers")
    model = SentencePieceModel.load(broken_dir("invalid-utf8-piece") / "spiece.model")
    with pytest.raises(ModelFileError) as info:
        model.require_text("compare tokenizers")
    message = str(info.value)
    assert "\n" not in message
    assert message.endswith(
        "spiece.model: cannot compare tokenizers: 1 piece(s) are not valid UTF-8 (ids 899); "
        "sentencepiece's Python API and Hugging Face cannot return them as text"
    )
    surface = SentencePieceModel.load(broken_dir("invalid-utf8-unk-surface") / "spiece.model")
    with pytest.raises(ModelFileError, match=r"cannot export: trainer_spec\.unk_surface is not"):
        surface.require_text("export")


def test_require_text_lists_at_most_five_ids(tmp_path: Path) -> None:
    edits = [(bytes([0xF8, 0xF8, n]), _rename(500 + n)) for n in range(7)]
    model = SentencePieceModel.load(_write(tmp_path, _not_utf8(TINY, *edits)))
    with pytest.raises(
        ModelFileError, match=r"7 piece\(s\) .* \(ids 500, 501, 502, 503, 504, \.\.\.\)"
    ):
        model.require_text("roundtrip")


def test_representable_decodes_invalid_unk_surface(tmp_path: Path) -> None:
    # No byte fallback, so an unseen character becomes unk, which decodes to unk_surface.
    legacy = FIXTURES / "tiny-legacy" / "spiece.model"

    def surface(proto: ModelProto, text: str) -> None:
        proto.trainer_spec.unk_surface = text

    path = _write(tmp_path, _not_utf8(legacy, (b" \xbf ", surface)))
    model = SentencePieceModel.load(path)
    report = run_checks(resolve(str(path)), model, Profile("unseen", representable=("\U000f0000",)))
    (check,) = [c for c in report.checks if c.name == "representable['\\U000f0000']"]
    assert not check.passed
    assert isinstance(check.actual, dict)
    assert check.actual["decoded"] == " \\xbf "
    assert check.actual["pieces"] == ["▁", "[UNK]"]


# --- sentencepiece's load errors become one line ---------------------------------------------


def test_multiline_load_error_is_one_line(tmp_path: Path) -> None:
    proto = ModelProto()
    proto.ParseFromString(TINY.read_bytes())
    proto.pieces[500].piece = proto.pieces[501].piece = "a\nb"
    model = SentencePieceModel.load(_write(tmp_path, proto.SerializeToString()))
    with pytest.raises(ModelFileError) as info:
        _ = model.processor
    assert str(info.value).endswith(
        "odd.model: sentencepiece refuses to load the model: INTERNAL: a b is already defined."
    )


def test_invalid_byte_piece_load_error(tmp_path: Path) -> None:
    # sentencepiece raises UnicodeDecodeError, not RuntimeError, for this one.
    model = SentencePieceModel.load(_write(tmp_path, _not_utf8(TINY, (b"<\xff>", _rename(10)))))
    with pytest.raises(ModelFileError, match=r"INTERNAL: byte piece <\\xff> is invalid\.$"):
        _ = model.processor


def test_pure_python_protobuf_refuses_with_one_line(tmp_path: Path) -> None:
    # Only upb hands such a string over as bytes; the pure-Python parser raises instead.
    model = FIXTURES / "broken" / "invalid-utf8-piece" / "spiece.model"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tokcheck.errors import ModelFileError\n"
        "from tokcheck.model.proto import SentencePieceModel\n"
        "try:\n"
        f"    SentencePieceModel.load(Path({str(model)!r}))\n"
        "except ModelFileError as e:\n"
        "    print(e)\n"
    )
    env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert run.stderr == ""
    (line,) = run.stdout.splitlines()
    assert "a string in the model is not valid UTF-8" in line
    assert "sentencepiece.ModelProto.SentencePiece.piece" in line


# --- sentencepiece's own log lines stay off stderr -------------------------------------------


def test_load_prints_no_sentencepiece_log_lines(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # A "\0" piece with byte fallback: sentencepiece loads it with a warning on stderr.
    proto = ModelProto()
    proto.ParseFromString(TINY.read_bytes())
    proto.pieces[500].piece = "\0"
    data: bytes = proto.SerializeToString()
    spm.set_min_log_level(0)  # sentencepiece's default, in case tokcheck already raised it
    spm.SentencePieceProcessor().LoadFromSerializedProto(data)
    assert "null character" in capfd.readouterr().err
    s = SentencePieceModel.load(_write(tmp_path, data)).summary()
    assert s.processor_error is None
    assert capfd.readouterr() == ("", "")


def test_summary_dict_is_plain_text(broken_dir: Callable[[str], Path]) -> None:
    data: dict[str, Any] = (
        SentencePieceModel.load(broken_dir("invalid-utf8-user-symbol") / "spiece.model")
        .summary()
        .to_dict()
    )

    def walk(value: Any) -> None:
        assert not isinstance(value, bytes)
        if isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk(data)


# --- corpus paths ----------------------------------------------------------------------------


def test_corpus_paths(tmp_path: Path) -> None:
    good = tmp_path / "corpus.txt"
    good.write_text("吾輩は猫である\n", encoding="utf-8")
    assert check_corpora([good]) == [good]
    (tmp_path / "corpora").mkdir()
    with pytest.raises(CorpusError, match=r"corpora: is a directory, not a corpus file$"):
        check_corpora([good, tmp_path / "corpora"])
    with pytest.raises(CorpusError, match=r"missing\.txt: no such corpus file$"):
        check_corpora([tmp_path / "missing.txt"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_corpus_is_refused_without_opening_it(tmp_path: Path) -> None:
    # Opening a FIFO with no writer would block this test forever.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(CorpusError, match=r"pipe: is not a regular file; a corpus must be a text"):
        check_corpora([fifo])


# --- JSON output is strict RFC 8259 ----------------------------------------------------------


def _strict_loads(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in output")

    return json.loads(text, parse_constant=refuse)


def _printed(data: Any) -> str:
    stream = io.StringIO()
    print_json(data, stream)
    text = stream.getvalue()
    text.encode("utf-8")  # what a UTF-8 stdout would have to write
    return text


@dataclass(frozen=True)
class _Report:
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score}


def test_print_json_known_answers() -> None:
    data = {
        "scores": [1.5, math.nan, math.inf, -math.inf],
        "piece": "a\udcffb",
        "raw": b"Q\xffQ",
        "ok": "吾輩",
        "report": _Report(math.nan),
        "ids": (1, 2),
        math.inf: None,
    }
    assert _strict_loads(_printed(data)) == {
        "scores": [1.5, "NaN", "Infinity", "-Infinity"],
        "piece": "a\\udcffb",
        "raw": "Q\\xffQ",
        "ok": "吾輩",
        "report": {"score": "NaN"},
        "ids": [1, 2],
        "Infinity": None,
    }


def test_print_json_leaves_plain_data_alone() -> None:
    data = {"text": "吾輩は猫である\n", "n": [0, -1, 2.5], "none": None, "yes": True}
    assert _printed(data) == json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def test_bytes_default_uses_the_proto_escape() -> None:
    assert _strict_loads(_printed([b"\xe8\x80\x92\xe7\x86"])) == ["耒\\xe7\\x86"]


def _random_value(r: random.Random, depth: int = 0) -> Any:
    """Anything tokcheck might hand to print_json, awkward values weighted up."""
    leaves: list[Callable[[], Any]] = [
        lambda: None,
        lambda: r.random() < 0.5,
        lambda: r.randint(-(2**70), 2**70),
        lambda: r.choice([math.nan, math.inf, -math.inf, -0.0, 1e308, r.random()]),
        lambda: "".join(chr(r.choice([r.randrange(0x110000), 0xD800, 0xDFFF])) for _ in range(4)),
        lambda: r.randbytes(r.randrange(6)),
    ]
    if depth < 3 and r.random() < 0.4:
        items = [_random_value(r, depth + 1) for _ in range(r.randrange(4))]
        if r.random() < 0.5:
            return items
        return {_random_value(r, 3) if r.random() < 0.3 else str(i): v for i, v in enumerate(items)}
    return r.choice(leaves)()


def test_print_json_output_always_parses() -> None:
    # Seeded rather than Hypothesis, whose example database would be written to the cwd.
    r = random.Random(20261129)
    for _ in range(500):
        _strict_loads(_printed(_random_value(r)))


def test_inspect_of_invalid_utf8_model_is_strict_json(
    broken_dir: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from tokcheck.model.inspection import inspect_model

    resolved = resolve(str(broken_dir("invalid-utf8-user-symbol")))
    report = inspect_model(resolved, SentencePieceModel.load(resolved.model_file))
    text = _printed(report)
    assert "b'" not in text
    assert _strict_loads(text)["user_defined_symbols"] == ["<\\xff>"]
