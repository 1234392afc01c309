"""Generation smoke test: load the model, prompt it the way its card says, check what comes out.

The prompt is the card's example conversation in the profile's format (:mod:`tokcheck.prompt`),
tokenised by the sentencepiece reference with nothing prepended, as the cards do with
``tokenizer.encode(prompt, add_special_tokens=False)``. Generation uses the cards' settings
and the tokenizer's pad/bos/eos ids; the new tokens are decoded by sentencepiece again.

Weights come from the model directory when it has them. Without weights, ``random_weights``
builds the architecture from ``config.json`` with random weights (full size, or shrunk with
``tiny``): that exercises loading, the embedding size, the ids the config and tokenizer agree
on, the parameter count and the generate loop, but it says nothing about output quality.

torch and transformers are imported inside the functions that need them, so importing this
module stays cheap; torch is an optional dependency (``pip install 'tokcheck[torch]'``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokcheck.checks import CheckResult, Skipped, Verdicts, tokenizer_special_id
from tokcheck.errors import MissingDependencyError, TokcheckError
from tokcheck.profiles import Profile
from tokcheck.prompt import CARD_EXAMPLE, build_prompt, postprocess
from tokcheck.proto import SentencePieceModel
from tokcheck.resolve import ResolvedModel

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cuda", "cpu")
DTYPES = ("auto", "float16", "bfloat16", "float32")
# A profile without a prompt format gets plain newlines: readable text for any model, whereas
# a literal "<NL>" only means something to the family trained on it.
DEFAULT_PROMPT_FORMAT = "newline"
# The rinna cards' generate() settings (japanese-gpt-neox-3.6b-instruction-ppo).
CARD_SAMPLING: dict[str, Any] = {"do_sample": True, "temperature": 0.7, "repetition_penalty": 1.1}
PARAMETER_TOLERANCE = 0.01
# --tiny: the same architecture and vocabulary, a few hundred thousand parameters besides the
# embeddings. Keys are set only where the config has them (GPT-NeoX/Llama names, GPT-2 names).
TINY_OVERRIDES: dict[str, int] = {
    "num_hidden_layers": 2,
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "n_layer": 2,
    "n_embd": 64,
    "n_inner": 256,
    "n_head": 4,
}
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# A short text in the family's own prompt format, for the optional teacher-forced loss.
LOSS_TEXT_UTTERANCES = CARD_EXAMPLE[:1]


@dataclass(frozen=True)
class SmokeReport(Verdicts):
    source: str
    profile: str | None
    prompt_format: str
    # "pretrained", "random" or "random-tiny".
    weights: str
    device: str
    dtype: str
    parameters: int
    load_s: float
    prompt_tokens: int
    new_tokens: int
    # The first generate() call, untimed in tokens_per_s: it pays one-off costs (CUDA kernel
    # selection, cuDNN attention plans built per sequence length) that a server pays once.
    warmup_s: float
    generate_s: float
    # New tokens over the second, timed generate() call, prompt prefill included.
    tokens_per_s: float
    peak_gpu_memory_bytes: int | None
    prompt: str
    output: str
    checks: list[CheckResult]
    skipped: list[Skipped] = field(default_factory=list)
    # Pretrained weights only: teacher-forced loss of a short text under the reference ids and
    # under the ids each Hugging Face loading path produces (see teacher_forced_losses).
    losses: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data


def run_smoke(
    resolved: ResolvedModel,
    model: SentencePieceModel,
    profile: Profile | None,
    *,
    device: str = "auto",
    dtype: str = "auto",
    max_new_tokens: int = 128,
    random_weights: bool = False,
    tiny: bool = False,
    seed: int = 0,
) -> SmokeReport:
    """Load (or build) the model, generate a reply to the card's prompt, and check it.

    ``tiny`` implies ``random_weights``. Raises TokcheckError for unusable input: no
    ``config.json``, no weights without ``random_weights``, CUDA asked for but absent.
    """
    _require_torch()
    import torch

    if max_new_tokens < 1:
        raise TokcheckError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    random_weights = random_weights or tiny
    torch_device = _device(device)
    torch_dtype = _dtype(dtype, torch_device)
    directory, config = _model_directory(resolved)
    if not random_weights and not weight_files(directory):
        raise TokcheckError(
            f"{resolved.name}: no weights in {directory} (looked for "
            f"{', '.join(WEIGHT_FILES)}); pass --random-weights to smoke-test the architecture "
            "with random weights"
        )
    fmt = (profile.prompt_format if profile else None) or DEFAULT_PROMPT_FORMAT
    sp = model.processor
    vocab_size = len(model.pieces)
    # unk as the reference produces it; bos/eos/pad as a transformers user gets them.
    special = {w: tokenizer_special_id(model, resolved, w) for w in ("bos", "eos", "pad")}
    special["unk"] = sp.unk_id()

    hf_config = _hf_config(config, tiny=tiny)
    # Imports the modeling module now, so that load_s times loading, not Python imports.
    _causal_lm_class(hf_config)
    cuda = torch_device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(torch_device)
    torch.manual_seed(seed)
    start = time.perf_counter()
    if random_weights:
        hf_model = _random_model(hf_config, device=torch_device, dtype=torch_dtype)
    else:
        hf_model = _pretrained_model(directory, device=torch_device, dtype=torch_dtype)
    hf_model.eval()
    _synchronize(torch_device)
    load_s = time.perf_counter() - start

    prompt = build_prompt(CARD_EXAMPLE, fmt)
    prompt_ids: list[int] = sp.encode(prompt)
    # Random logits carry no information: an unk, a control piece or an id with no piece drawn
    # from them would be a false alarm about the model and make the result depend on the seed.
    # So random weights sample only ordinary pieces and always run to max_new_tokens, which also
    # makes tokens/s comparable between runs. With real weights nothing is masked: what the
    # model emits is what the checks judge.
    rows = int(hf_model.get_input_embeddings().weight.shape[0])
    suppressed = (
        sorted({i for i in special.values() if i >= 0} | set(range(vocab_size, rows)))
        if random_weights
        else []
    )
    new_ids: list[int] = []
    output_device = None
    warmup_s = generate_s = 0.0
    # An id past the embedding would crash generate() (on CUDA, as a device-side assert that
    # poisons the process); embedding_rows reports it instead.
    can_generate = max(prompt_ids, default=0) < rows
    if can_generate:
        generate_kwargs: dict[str, Any] = {
            "attention_mask": torch.ones(1, len(prompt_ids), dtype=torch.long, device=torch_device),
            "max_new_tokens": max_new_tokens,
            "pad_token_id": special["pad"] if special["pad"] >= 0 else special["eos"],
            "bos_token_id": special["bos"] if special["bos"] >= 0 else None,
            "eos_token_id": special["eos"],
            "suppress_tokens": suppressed or None,
            **CARD_SAMPLING,
        }
        input_ids = torch.tensor([prompt_ids], device=torch_device)
        timings = []
        # Twice with the same seed: the first run warms up, the second is timed.
        for _ in range(2):
            torch.manual_seed(seed)
            start = time.perf_counter()
            with torch.inference_mode():
                output = hf_model.generate(input_ids, **generate_kwargs)
            _synchronize(torch_device)
            timings.append(time.perf_counter() - start)
        warmup_s, generate_s = timings
        new_ids = output[0, len(prompt_ids) :].tolist()
        output_device = output.device
    peak = int(torch.cuda.max_memory_allocated(torch_device)) if cuda else None
    text = postprocess(sp.decode([i for i in new_ids if 0 <= i < vocab_size]), fmt)

    parameters = int(hf_model.num_parameters())
    unk_scope = (
        "prompt (nothing was generated)"
        if not can_generate
        else "prompt (random weights: unk is masked in sampling, so only the tokenizer is judged)"
        if random_weights
        else "prompt and output"
    )
    checks = [
        _device_check(torch_device, next(hf_model.parameters()).device, output_device),
        _no_unk(prompt_ids, new_ids, special["unk"], sp.id_to_piece(special["unk"]), unk_scope),
        _eos_agrees(hf_model, config, special["eos"], model.pieces),
        _embedding_rows(rows, vocab_size),
    ]
    skipped: list[Skipped] = []
    if can_generate:
        checks += [_output_in_vocab(new_ids, vocab_size, random_weights), _non_empty(text, new_ids)]
    else:
        reason = f"not generated: the prompt has ids up to {max(prompt_ids)}, past {rows} rows"
        skipped += [Skipped(n, reason) for n in ("output_in_vocab", "non_empty_output")]
    if tiny:
        skipped.append(Skipped("parameters", "--tiny shrinks the model; counts are not comparable"))
    elif profile is None or profile.parameters is None:
        skipped.append(Skipped("parameters", "no profile with a published parameter count"))
    else:
        checks.append(_parameters(parameters, profile.parameters, profile.name))

    losses = None
    if not random_weights:
        losses = teacher_forced_losses(
            hf_model, resolved, model, build_prompt(LOSS_TEXT_UTTERANCES, fmt)
        )
    return SmokeReport(
        source=str(directory),
        profile=profile.name if profile else None,
        prompt_format=fmt,
        weights="random-tiny" if tiny else "random" if random_weights else "pretrained",
        device=str(torch_device),
        dtype=str(torch_dtype).removeprefix("torch."),
        parameters=parameters,
        load_s=round(load_s, 3),
        prompt_tokens=len(prompt_ids),
        new_tokens=len(new_ids),
        warmup_s=round(warmup_s, 3),
        generate_s=round(generate_s, 3),
        tokens_per_s=round(len(new_ids) / generate_s, 2) if generate_s > 0 else 0.0,
        peak_gpu_memory_bytes=peak,
        prompt=prompt,
        output=text,
        checks=checks,
        skipped=skipped,
        losses=losses,
    )


def count_parameters(config: dict[str, Any], *, tiny: bool = False) -> int:
    """Parameters of the model ``config`` describes, counted on the meta device (no memory)."""
    _require_torch()
    import torch

    hf_model = _random_model(
        _hf_config(config, tiny=tiny), device=torch.device("meta"), dtype=torch.float32
    )
    return int(hf_model.num_parameters())


def weight_files(directory: Path) -> list[Path]:
    """The weight files in ``directory`` that transformers would load, single or sharded."""
    return [directory / name for name in WEIGHT_FILES if (directory / name).is_file()]


def teacher_forced_losses(
    hf_model: Any, resolved: ResolvedModel, model: SentencePieceModel, text: str
) -> list[dict[str, Any]]:
    """Loss of ``text`` under the reference ids and under each Hugging Face path's ids.

    Only meaningful with trained weights: a loss clearly higher for one tokenisation means the
    model was trained on the other. Special tokens are left out on every side, so only the
    tokenisation of the text differs. A path that fails to load is listed with its error.
    """
    from tokcheck.candidates import load_candidates

    reference_ids: list[int] = model.processor.encode(text)
    rows: list[dict[str, Any]] = [
        {
            "path": "reference",
            "class": "sentencepiece",
            "ids": len(reference_ids),
            "same_ids": True,
            "loss": _loss(hf_model, reference_ids),
        }
    ]
    candidates, unavailable = load_candidates(resolved, model)
    losses_by_key: dict[str, float | None] = {}
    for candidate in candidates:
        ids = candidate.encode_batch([text])[0]
        if candidate.key not in losses_by_key:
            losses_by_key[candidate.key] = _loss(hf_model, ids)
        rows.append(
            {
                "path": candidate.name,
                "class": candidate.cls,
                "ids": len(ids),
                "same_ids": ids == reference_ids,
                "loss": losses_by_key[candidate.key],
            }
        )
    rows += [{"path": u.name, "error": u.reason} for u in unavailable]
    return rows


def _loss(hf_model: Any, ids: list[int]) -> float | None:
    import torch

    if len(ids) < 2:
        return None
    device = next(hf_model.parameters()).device
    tensor = torch.tensor([ids], device=device)
    with torch.inference_mode():
        loss = hf_model(input_ids=tensor, labels=tensor).loss
    return round(float(loss), 4)


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise MissingDependencyError(
            "the smoke test needs torch, which is not installed: pip install 'tokcheck[torch]' "
            "(on a CPU-only machine install the CPU wheel of torch first)"
        ) from e


def _device(name: str) -> torch.device:
    import torch

    if name not in DEVICES:
        raise TokcheckError(f"unknown device {name!r}: use one of {', '.join(DEVICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    elif name == "cuda" and not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise TokcheckError(
            f"device cuda requested but CUDA is not available (torch {torch.__version__}, "
            f"{build}); use --device cpu or auto"
        )
    return torch.device(name)


def _dtype(name: str, device: torch.device) -> torch.dtype:
    import torch

    if name not in DTYPES:
        raise TokcheckError(f"unknown dtype {name!r}: use one of {', '.join(DTYPES)}")
    if name == "auto":
        # Half precision is what the cards run on GPUs; on CPUs it is slow or unsupported.
        return torch.float16 if device.type == "cuda" else torch.float32
    result: torch.dtype = getattr(torch, name)
    return result


def _model_directory(resolved: ResolvedModel) -> tuple[Path, dict[str, Any]]:
    if resolved.directory is None or resolved.config is None:
        where = resolved.directory or resolved.model_file
        raise TokcheckError(
            f"{resolved.name}: the smoke test needs a model directory with config.json, "
            f"and {where} has none"
        )
    return resolved.directory, resolved.config


def _hf_config(config: dict[str, Any], *, tiny: bool) -> Any:
    """A transformers config from config.json's values, shrunk by TINY_OVERRIDES if ``tiny``."""
    import transformers
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    values = dict(config)
    model_type = values.pop("model_type", None)
    if not isinstance(model_type, str):
        raise TokcheckError("config.json has no model_type: cannot build the architecture")
    if model_type not in CONFIG_MAPPING:
        raise TokcheckError(
            f"config.json model_type {model_type!r} is unknown to transformers "
            f"{transformers.__version__}"
        )
    # The caller chooses the dtype; a torch_dtype left in config.json only draws warnings.
    values.pop("torch_dtype", None)
    values.pop("dtype", None)
    if tiny:
        values.update({k: v for k, v in TINY_OVERRIDES.items() if k in values})
    return AutoConfig.for_model(model_type, **values)


def _causal_lm_class(hf_config: Any) -> Any:
    """The causal-LM class for ``hf_config``; looking it up imports its module."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    try:
        return MODEL_FOR_CAUSAL_LM_MAPPING[type(hf_config)]
    except KeyError as e:
        raise TokcheckError(
            f"model_type {hf_config.model_type!r} has no causal language model in transformers"
        ) from e


def _random_model(hf_config: Any, *, device: torch.device, dtype: torch.dtype) -> Any:
    from transformers import AutoModelForCausalLM

    # Initialised where it will run: a full-size model never passes through host memory.
    from_config: Any = AutoModelForCausalLM.from_config
    with device:
        return from_config(hf_config, dtype=dtype)


def _pretrained_model(directory: Path, *, device: torch.device, dtype: torch.dtype) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        hf_model: Any = AutoModelForCausalLM.from_pretrained(
            str(directory), dtype=dtype, local_files_only=True
        )
    except (OSError, ValueError) as e:
        raise TokcheckError(f"{directory}: transformers cannot load the weights: {e}") from e
    return hf_model.to(device)


def _synchronize(device: torch.device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
