"""The checks of the generation smoke test: which apply to a run, and what each one judges.

:func:`evaluate` picks the checks for a run (and the ones skipped, with why); each check
takes plain values (ids, sizes, devices, the loaded model's configs) and returns one
:class:`~tokcheck.checks.rules.CheckResult`. Nothing here loads a model or generates; that is
:mod:`tokcheck.smoke.run`, whose run records this module reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokcheck.checks.rules import CheckResult, Skipped

if TYPE_CHECKING:
    import torch

    from tokcheck.model.profiles import Profile
    from tokcheck.model.proto import SentencePieceModel
    from tokcheck.smoke.records import Generation, LoadedModel

# Published counts are rounded (3.6B for 3,607,245,312); a config further off describes another
# architecture.
PARAMETER_TOLERANCE = 0.01


def evaluate(
    loaded: LoadedModel,
    generation: Generation,
    model: SentencePieceModel,
    special: dict[str, int],
    profile: Profile | None,
    *,
    random_weights: bool,
    tiny: bool,
) -> tuple[list[CheckResult], list[Skipped]]:
    """The smoke checks that apply to this run, and the ones skipped with the reason why."""
    vocab_size = len(model.pieces)
    unk_id, eos_id = special["unk"], special["eos"]
    unk_scope = (
        "prompt (nothing was generated)"
        if not generation.generated
        else "prompt (random weights: unk is masked in sampling, so only the tokenizer is judged)"
        if random_weights
        else "prompt and output"
    )
    weights_device = next(loaded.hf_model.parameters()).device
    checks = [
        _device_check(loaded.device, weights_device, generation.output_device),
        _no_unk(
            generation.prompt_ids,
            generation.new_ids,
            unk_id,
            model.processor.id_to_piece(unk_id),
            unk_scope,
        ),
        _eos_agrees(loaded.hf_model, loaded.config, eos_id, model.pieces),
        _embedding_rows(generation.rows, vocab_size),
    ]
    skipped: list[Skipped] = []
    if generation.generated:
        checks += [
            _output_in_vocab(generation.new_ids, vocab_size, random_weights),
            _non_empty(generation.text, generation.new_ids),
        ]
    else:
        reason = (
            f"not generated: the prompt has ids up to {max(generation.prompt_ids)}, "
            f"past {generation.rows} rows"
        )
        skipped += [Skipped(n, reason) for n in ("output_in_vocab", "non_empty_output")]
    if tiny:
        skipped.append(Skipped("parameters", "--tiny shrinks the model; counts are not comparable"))
    elif profile is None or profile.parameters is None:
        skipped.append(Skipped("parameters", "no profile with a published parameter count"))
    else:
        checks.append(_parameters(loaded.parameters, profile.parameters, profile.name))
    return checks, skipped


def _device_check(
    requested: torch.device, weights: torch.device, output: torch.device | None
) -> CheckResult:
    used = {weights.type} | ({output.type} if output is not None else set())
    passed = used == {requested.type}
    return CheckResult(
        "device",
        passed,
        str(requested),
        {"weights": str(weights), "output": str(output) if output is not None else None},
        f"ran on {weights}"
        if passed
        else f"asked for {requested} but the weights are on {weights} and the output on "
        f"{output}: the run did not measure what was asked",
    )


def _no_unk(
    prompt_ids: list[int], new_ids: list[int], unk_id: int, unk_piece: str, scope: str
) -> CheckResult:
    in_prompt, in_output = prompt_ids.count(unk_id), new_ids.count(unk_id)
    passed = in_prompt == 0 and in_output == 0
    if passed:
        message = f"no {unk_piece} (id {unk_id}) in the {scope}"
    elif in_prompt:
        message = (
            f"the card's prompt encodes to {in_prompt} {unk_piece} token(s): characters the "
            "model's users type are lost before the model sees them; the tokenizer needs byte "
            "fallback or is not this model's"
        )
    else:
        message = (
            f"the model generated {unk_piece} (id {unk_id}) {in_output} time(s): a model trained "
            "with this tokenizer never sees unk, so the tokenizer is probably not the one it "
            "was trained with"
        )
    return CheckResult("no_unk", passed, 0, {"prompt": in_prompt, "output": in_output}, message)


def _output_in_vocab(new_ids: list[int], vocab_size: int, random_weights: bool) -> CheckResult:
    outside = sorted({i for i in new_ids if not 0 <= i < vocab_size})
    passed = not outside
    return CheckResult(
        "output_in_vocab",
        passed,
        f"every generated id < {vocab_size} (tokenizer vocab size)",
        outside[:10],
        (
            "every generated id is a piece"
            + (" (ids without a piece masked: random weights)" if random_weights else "")
        )
        if passed
        else f"the model generated id(s) {outside[:10]} that have no piece in the tokenizer: "
        "its output embedding is larger than the vocab and those rows were trained, so the "
        "tokenizer is probably not the model's",
    )


def _non_empty(text: str, new_ids: list[int]) -> CheckResult:
    passed = bool(text.strip())
    return CheckResult(
        "non_empty_output",
        passed,
        "non-blank reply",
        text,
        f"{len(new_ids)} new token(s) decode to a non-blank reply"
        if passed
        else f"{len(new_ids)} new token(s) decode to a blank reply: the model stopped at once or "
        "emitted only control pieces; check the prompt format and the eos id",
    )


def _eos_agrees(
    hf_model: Any, config: dict[str, Any], eos_id: int, pieces: list[str]
) -> CheckResult:
    eos_piece = pieces[eos_id] if 0 <= eos_id < len(pieces) else None
    # What generate() stops on when the caller does not pass eos_token_id itself.
    configured = {
        "config.json": getattr(hf_model.config, "eos_token_id", None),
        "generation_config": getattr(hf_model.generation_config, "eos_token_id", None),
    }
    wrong = {
        where: value
        for where, value in configured.items()
        if value is not None and eos_id not in (value if isinstance(value, list) else [value])
    }
    passed = not wrong
    if passed:
        message = f"config and tokenizer agree: eos id {eos_id} ({eos_piece})"
    else:
        implicit = (
            " (config.json sets none, so this is transformers' default)"
            if "eos_token_id" not in config
            else ""
        )
        where, value = next(iter(wrong.items()))
        message = (
            f"{where} eos_token_id is {value}{implicit} but the tokenizer's eos id is {eos_id} "
            f"({eos_piece}): generate() without an explicit eos_token_id would not stop at the "
            "end of the reply; fix eos_token_id in config.json (and generation_config.json)"
        )
    return CheckResult("eos_agrees", passed, eos_id, configured, message)


def _embedding_rows(rows: int, vocab_size: int) -> CheckResult:
    passed = rows >= vocab_size
    return CheckResult(
        "embedding_rows",
        passed,
        f">= {vocab_size} (tokenizer vocab size)",
        rows,
        f"{rows} embedding rows cover every token id"
        if passed
        else f"the model has {rows} embedding rows for {vocab_size} pieces: ids >= {rows} "
        "index past the embedding; this tokenizer does not belong to this model",
    )


def _parameters(parameters: int, expected: int, family: str) -> CheckResult:
    deviation = (parameters - expected) / expected
    passed = abs(deviation) <= PARAMETER_TOLERANCE
    return CheckResult(
        "parameters",
        passed,
        f"{expected:,} ± {PARAMETER_TOLERANCE:.0%}",
        parameters,
        f"{parameters:,} parameters ({deviation:+.2%} from {family}'s published count)"
        if passed
        else f"{parameters:,} parameters is {deviation:+.2%} off {family}'s {expected:,}: "
        "config.json does not describe this family's architecture",
    )
