"""The committed fixtures: reproducible from fixtures/build.py, each broken one broken once.

Rebuilding tiny-neox takes a second or two; the 32k and 64k fixtures are not rebuilt here, but
every broken variant is compared with the conformant model it was derived from, so a fixture
cannot silently carry a second defect.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

# The generated pb2 module defines its classes at run time, out of mypy's sight.
from sentencepiece.sentencepiece_model_pb2 import ModelProto

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HF_FILES = {"spiece.model", "tokenizer_config.json", "special_tokens_map.json", "config.json"}
FIXTURE_DIRS = [
    "tiny-neox",
    "tiny-bilingual",
    "tiny-legacy",
    "neox-3.6b",
    "bilingual-4b",
    "legacy-1b",
    "broken/config-eos-mismatch",
    "broken/corrupt",
    "broken/deep-json",
    "broken/dummy-prefix-on",
    "broken/huge-int-json",
    "broken/invalid-utf8-piece",
    "broken/invalid-utf8-unk-surface",
    "broken/invalid-utf8-user-symbol",
    "broken/missing-byte-pieces",
    "broken/nan-json",
    "broken/no-byte-fallback",
    "broken/null-piece",
    "broken/special-token-extra-key",
    "broken/string-max-length",
    "broken/truncated",
    "broken/unknown-dtype",
    "broken/unparsable-charsmap",
    "broken/whitespace-removal-on",
    "broken/wrong-type-special-tokens",
    "broken/wrong-vocab-size",
]
# Files that are deliberately not JSON an ordinary parser accepts; their own tests read them.
NOT_JSON = {
    "broken/deep-json": "tokenizer_config.json",
    "broken/huge-int-json": "config.json",
    "broken/nan-json": "config.json",
}
TRAINER_FIELDS = (
    "model_type",
    "vocab_size",
    "character_coverage",
    "byte_fallback",
    "split_by_whitespace",
    "split_by_unicode_script",
    "split_by_number",
    "split_digits",
    "treat_whitespace_as_suffix",
    "allow_whitespace_only_pieces",
    "user_defined_symbols",
    "control_symbols",
    "unk_id",
    "bos_id",
    "eos_id",
    "pad_id",
    "unk_piece",
    "bos_piece",
    "eos_piece",
    "pad_piece",
)


def _proto(path: Path) -> ModelProto:
    proto = ModelProto()
    proto.ParseFromString(path.read_bytes())
    return proto


def _pieces(proto: ModelProto) -> list[tuple[str, float, int]]:
    return [(p.piece, p.score, p.type) for p in proto.pieces]


def test_fixture_set_is_complete() -> None:
    present = sorted(str(p.parent.relative_to(FIXTURES)) for p in FIXTURES.rglob("spiece.model"))
    assert present == sorted(FIXTURE_DIRS)


@pytest.mark.parametrize("name", FIXTURE_DIRS, ids=FIXTURE_DIRS)
def test_fixture_is_hf_layout(name: str) -> None:
    directory = FIXTURES / name
    assert {p.name for p in directory.iterdir()} == HF_FILES
    for json_file in HF_FILES - {"spiece.model", NOT_JSON.get(name)}:
        assert isinstance(json.loads((directory / json_file).read_text(encoding="utf-8")), dict)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rebuilt")
    subprocess.run(
        [sys.executable, str(FIXTURES / "build.py"), "--only", "tiny-neox", "--out", str(out)],
        check=True,
        capture_output=True,
        cwd=out,
        timeout=120,
    )
    return out / "tiny-neox"


def test_rebuild_reproduces_pieces_and_scores(rebuilt: Path) -> None:
    committed, fresh = (
        _proto(FIXTURES / "tiny-neox" / "spiece.model"),
        _proto(rebuilt / "spiece.model"),
    )
    assert len(fresh.pieces) == 1000
    assert _pieces(fresh) == _pieces(committed)


def test_rebuild_reproduces_flags(rebuilt: Path) -> None:
    committed, fresh = (
        _proto(FIXTURES / "tiny-neox" / "spiece.model"),
        _proto(rebuilt / "spiece.model"),
    )
    assert fresh.normalizer_spec == committed.normalizer_spec
    for name in TRAINER_FIELDS:
        assert getattr(fresh.trainer_spec, name) == getattr(committed.trainer_spec, name), name
    assert (fresh.normalizer_spec.add_dummy_prefix, fresh.trainer_spec.byte_fallback) == (
        False,
        True,
    )


def test_rebuild_reproduces_hf_files(rebuilt: Path) -> None:
    assert {p.name for p in rebuilt.iterdir()} == HF_FILES
    for name in HF_FILES - {"spiece.model"}:
        assert (rebuilt / name).read_text(encoding="utf-8") == (
            FIXTURES / "tiny-neox" / name
        ).read_text(encoding="utf-8")


def test_build_writes_only_under_out(rebuilt: Path) -> None:
    assert sorted(p.name for p in rebuilt.parent.iterdir()) == ["tiny-neox"]


# --- each broken fixture differs from its source in the one intended way ---------------------


def _neox() -> ModelProto:
    return _proto(FIXTURES / "neox-3.6b" / "spiece.model")


def _broken(name: str) -> ModelProto:
    return _proto(FIXTURES / "broken" / name / "spiece.model")


@pytest.mark.parametrize(
    ("name", "section", "field"),
    [
        ("dummy-prefix-on", "normalizer_spec", "add_dummy_prefix"),
        ("whitespace-removal-on", "normalizer_spec", "remove_extra_whitespaces"),
        ("no-byte-fallback", "trainer_spec", "byte_fallback"),
    ],
    ids=["dummy-prefix-on", "whitespace-removal-on", "no-byte-fallback"],
)
def test_flag_flipped_and_nothing_else(name: str, section: str, field: str) -> None:
    broken, source = _broken(name), _neox()
    flipped = getattr(getattr(broken, section), field)
    assert flipped is not getattr(getattr(source, section), field)
    setattr(getattr(broken, section), field, not flipped)
    assert broken == source


def test_missing_byte_pieces_renames_the_last_sixteen() -> None:
    broken, source = _broken("missing-byte-pieces"), _neox()
    changed = [
        (a.piece, b.piece, b.type)
        for a, b in zip(source.pieces, broken.pieces, strict=True)
        if (a.piece, a.type) != (b.piece, b.type)
    ]
    normal = ModelProto.SentencePiece.NORMAL
    assert changed == [(f"<0x{b:02X}>", f"byte{b:02X}", normal) for b in range(0xF0, 0x100)]
    del broken.pieces[:]
    del source.pieces[:]
    assert broken == source


def test_config_eos_mismatch_changes_only_config() -> None:
    directory = FIXTURES / "broken" / "config-eos-mismatch"
    source = FIXTURES / "neox-3.6b"
    assert (directory / "spiece.model").read_bytes() == (source / "spiece.model").read_bytes()
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    expected = json.loads((source / "config.json").read_text(encoding="utf-8"))
    assert config == {**expected, "eos_token_id": 0}


def test_wrong_vocab_size_has_neox_flags() -> None:
    broken, source = _broken("wrong-vocab-size"), _neox()
    assert len(broken.pieces) == 31_000
    assert broken.normalizer_spec == source.normalizer_spec
    for name in set(TRAINER_FIELDS) - {"vocab_size"}:
        assert getattr(broken.trainer_spec, name) == getattr(source.trainer_spec, name), name


def test_damaged_fixtures_are_cut_from_tiny_neox() -> None:
    tiny = (FIXTURES / "tiny-neox" / "spiece.model").read_bytes()
    truncated = (FIXTURES / "broken" / "truncated" / "spiece.model").read_bytes()
    corrupt = (FIXTURES / "broken" / "corrupt" / "spiece.model").read_bytes()
    assert truncated == tiny[: len(tiny) // 2]
    assert len(corrupt) == len(tiny)
    assert corrupt[64:] == tiny[64:]
    assert corrupt[:64] != tiny[:64]


# --- the bad-input fixtures: tiny-neox with one string or JSON value broken -------------------


def _tiny() -> ModelProto:
    return _proto(FIXTURES / "tiny-neox" / "spiece.model")


def _raw_piece(proto: ModelProto, index: int) -> str | bytes:
    # upb returns bytes for a string field that is not valid UTF-8.
    value: str | bytes = proto.pieces[index].piece
    return value


@pytest.mark.parametrize(
    ("name", "index", "raw", "kind"),
    [
        ("invalid-utf8-piece", 899, "耒藧熝".encode()[:-1], ModelProto.SentencePiece.NORMAL),
        ("invalid-utf8-user-symbol", 999, b"<\xff>", ModelProto.SentencePiece.USER_DEFINED),
    ],
    ids=["invalid-utf8-piece", "invalid-utf8-user-symbol"],
)
def test_invalid_utf8_piece_is_the_only_change(
    name: str, index: int, raw: bytes, kind: int
) -> None:
    broken, source = _broken(name), _tiny()
    assert _raw_piece(broken, index) == raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert broken.pieces[index].type == kind
    assert [
        i for i in range(len(source.pieces)) if _raw_piece(broken, i) != _raw_piece(source, i)
    ] == [index]
    del broken.pieces[index]
    del source.pieces[index]
    assert broken == source


def test_invalid_utf8_unk_surface_is_the_only_change() -> None:
    broken, source = _broken("invalid-utf8-unk-surface"), _tiny()
    surface: str | bytes = broken.trainer_spec.unk_surface
    assert surface == " ¿ ".encode("latin-1")
    broken.trainer_spec.ClearField("unk_surface")
    assert broken == source


def _tiny_text(name: str) -> str:
    return (FIXTURES / "tiny-neox" / name).read_text(encoding="utf-8")


def _text(fixture: str, name: str) -> str:
    return (FIXTURES / "broken" / fixture / name).read_text(encoding="utf-8")


JSON_FIXTURES = [
    "deep-json",
    "huge-int-json",
    "nan-json",
    "wrong-type-special-tokens",
    "string-max-length",
]


@pytest.mark.parametrize("name", JSON_FIXTURES, ids=JSON_FIXTURES)
def test_json_fixture_keeps_tiny_neox_model(name: str) -> None:
    model = (FIXTURES / "broken" / name / "spiece.model").read_bytes()
    assert model == (FIXTURES / "tiny-neox" / "spiece.model").read_bytes()


def test_deep_json_is_nested_100000_deep() -> None:
    depth = 100_000
    assert _text("deep-json", "tokenizer_config.json") == (
        '{"nested": ' + "[" * depth + "]" * depth + "}\n"
    )


def test_huge_int_json_changes_only_vocab_size() -> None:
    text = _text("huge-int-json", "config.json")
    assert text.replace("9" * 5000, "1000") == _tiny_text("config.json")


def test_nan_json_changes_only_layer_norm_eps() -> None:
    # Python's json reads NaN, which is not JSON; tokcheck refuses it.
    config = json.loads(_text("nan-json", "config.json"))
    assert math.isnan(config.pop("layer_norm_eps"))
    expected = json.loads(_tiny_text("config.json"))
    del expected["layer_norm_eps"]
    assert config == expected


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("wrong-type-special-tokens", "additional_special_tokens", 5),
        ("string-max-length", "model_max_length", "big"),
    ],
    ids=["wrong-type-special-tokens", "string-max-length"],
)
def test_tokenizer_config_changes_one_value(name: str, key: str, value: object) -> None:
    config = json.loads(_text(name, "tokenizer_config.json"))
    expected = json.loads(_tiny_text("tokenizer_config.json"))
    assert config == {**expected, key: value}
    assert _text(name, "config.json") == _tiny_text("config.json")
