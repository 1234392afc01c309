"""Generation smoke test: load the model, prompt it the way its card says, check what comes out.

The prompt is the card's example conversation in the profile's format (:mod:`tokcheck.inputs.prompt`),
tokenised by the sentencepiece reference with nothing prepended, as the cards do with
``tokenizer.encode(prompt, add_special_tokens=False)``. Generation uses the cards' settings
and the tokenizer's pad/bos/eos ids; the new tokens are decoded by sentencepiece again.

Weights come from the model directory when it has them. Without weights, ``random_weights``
builds the architecture from ``config.json`` with random weights (full size, or shrunk with
``tiny``): that exercises loading, the embedding size, the ids the config and tokenizer agree
on, the parameter count and the generate loop, but it says nothing about output quality.

This module loads and generates; :mod:`tokcheck.smoke.checks` judges the run and, with
trained weights, :mod:`tokcheck.smoke.losses` scores each tokenisation of a short text.

torch and transformers are imported inside the functions that need them, so importing this
module stays cheap; torch is an optional dependency (``pip install 'tokcheck[torch]'``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokcheck.checks.rules import CheckResult, Skipped, Verdicts
from tokcheck.errors import MissingDependencyError, TokcheckError
from tokcheck.inputs.prompt import CARD_EXAMPLE, build_prompt, postprocess
from tokcheck.model.hftokens import tokenizer_special_id
from tokcheck.model.profiles import Profile
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import ResolvedModel
from tokcheck.smoke import checks as smoke_checks
from tokcheck.smoke.losses import teacher_forced_losses
from tokcheck.smoke.records import Generation, LoadedModel

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cuda", "cpu")
DTYPES = ("auto", "float16", "bfloat16", "float32")
# A profile without a prompt format gets plain newlines: readable text for any model, whereas
# a literal "<NL>" only means something to the family trained on it.
DEFAULT_PROMPT_FORMAT = "newline"
# The rinna cards' generate() settings (japanese-gpt-neox-3.6b-instruction-ppo).
CARD_SAMPLING: dict[str, Any] = {"do_sample": True, "temperature": 0.7, "repetition_penalty": 1.1}
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
    # The model directory the config and weights came from.
    directory: str
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
    if max_new_tokens < 1:
        raise TokcheckError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    random_weights = random_weights or tiny
    loaded = _load(resolved, device, dtype, random_weights=random_weights, tiny=tiny, seed=seed)
    fmt = (profile.prompt_format if profile else None) or DEFAULT_PROMPT_FORMAT
    # unk as the reference produces it; bos/eos/pad as a transformers user gets them.
    special = {w: tokenizer_special_id(resolved, model, w) for w in ("bos", "eos", "pad")}
    special["unk"] = model.processor.unk_id()
    generation = _generate(
        loaded, model, special, fmt, max_new_tokens, random_weights=random_weights, seed=seed
    )
    peak = _peak_gpu_memory(loaded.device)
    checks, skipped = smoke_checks.evaluate(
        loaded, generation, model, special, profile, random_weights=random_weights, tiny=tiny
    )
    losses = None
    if not random_weights:
        losses = teacher_forced_losses(
            loaded.hf_model, resolved, model, build_prompt(LOSS_TEXT_UTTERANCES, fmt)
        )
    return SmokeReport(
        directory=str(loaded.directory),
        profile=profile.name if profile else None,
        prompt_format=fmt,
        weights="random-tiny" if tiny else "random" if random_weights else "pretrained",
        device=str(loaded.device),
        dtype=str(loaded.dtype).removeprefix("torch."),
        parameters=loaded.parameters,
        load_s=round(loaded.load_s, 3),
        prompt_tokens=len(generation.prompt_ids),
        new_tokens=len(generation.new_ids),
        warmup_s=round(generation.warmup_s, 3),
        generate_s=round(generation.generate_s, 3),
        tokens_per_s=(
            round(len(generation.new_ids) / generation.generate_s, 2)
            if generation.generate_s > 0
            else 0.0
        ),
        peak_gpu_memory_bytes=peak,
        prompt=generation.prompt,
        output=generation.text,
        checks=checks,
        skipped=skipped,
        losses=losses,
    )


def _load(
    resolved: ResolvedModel,
    device: str,
    dtype: str,
    *,
    random_weights: bool,
    tiny: bool,
    seed: int,
) -> LoadedModel:
    """Resolve the device and dtype, then build or load the model there, timing only that."""
    import torch

    torch_device = _device(device)
    torch_dtype = _dtype(dtype, torch_device)
    directory, config = _model_directory(resolved)
    if not random_weights and not weight_files(directory):
        raise TokcheckError(
            f"{resolved.name}: no weights in {directory} (looked for "
            f"{', '.join(WEIGHT_FILES)}); pass --random-weights to smoke-test the architecture "
            "with random weights"
        )
    hf_config = _hf_config(config, tiny=tiny)
    # Imports the modeling module now, so that load_s times loading, not Python imports.
    _causal_lm_class(hf_config)
    if torch_device.type == "cuda":
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
    parameters = int(hf_model.num_parameters())
    return LoadedModel(hf_model, torch_device, torch_dtype, directory, config, parameters, load_s)


def _generate(
    loaded: LoadedModel,
    model: SentencePieceModel,
    special: dict[str, int],
    fmt: str,
    max_new_tokens: int,
    *,
    random_weights: bool,
    seed: int,
) -> Generation:
    """Prompt the model with the card's example conversation: a warm-up run, then a timed one."""
    import torch

    prompt = build_prompt(CARD_EXAMPLE, fmt)
    prompt_ids: list[int] = model.processor.encode(prompt)
    rows = int(loaded.hf_model.get_input_embeddings().weight.shape[0])
    prompted = Generation(prompt, prompt_ids, rows)
    if not prompted.generated:
        return prompted
    vocab_size = len(model.pieces)
    # Random logits carry no information: an unk, a control piece or an id with no piece drawn
    # from them would be a false alarm about the model and make the result depend on the seed.
    # So random weights sample only ordinary pieces and always run to max_new_tokens, which also
    # makes tokens/s comparable between runs. With real weights nothing is masked: what the
    # model emits is what the checks judge.
    suppressed = (
        sorted({i for i in special.values() if i >= 0} | set(range(vocab_size, rows)))
        if random_weights
        else []
    )
    generate_kwargs: dict[str, Any] = {
        "attention_mask": torch.ones(1, len(prompt_ids), dtype=torch.long, device=loaded.device),
        "max_new_tokens": max_new_tokens,
        "pad_token_id": special["pad"] if special["pad"] >= 0 else special["eos"],
        "bos_token_id": special["bos"] if special["bos"] >= 0 else None,
        "eos_token_id": special["eos"],
        "suppress_tokens": suppressed or None,
        **CARD_SAMPLING,
    }
    input_ids = torch.tensor([prompt_ids], device=loaded.device)
    output, warmup_s, generate_s = _timed_generate(loaded, input_ids, generate_kwargs, seed)
    new_ids: list[int] = output[0, len(prompt_ids) :].tolist()
    text = postprocess(model.processor.decode([i for i in new_ids if 0 <= i < vocab_size]), fmt)
    return replace(
        prompted,
        new_ids=new_ids,
        text=text,
        output_device=output.device,
        warmup_s=warmup_s,
        generate_s=generate_s,
    )


def _timed_generate(
    loaded: LoadedModel, input_ids: torch.Tensor, generate_kwargs: dict[str, Any], seed: int
) -> tuple[Any, float, float]:
    """generate()'s output, the warm-up run's seconds and the timed run's seconds."""
    import torch

    timings = []
    # Twice with the same seed: the first run warms up, the second is timed.
    for _ in range(2):
        torch.manual_seed(seed)
        start = time.perf_counter()
        with torch.inference_mode():
            output = loaded.hf_model.generate(input_ids, **generate_kwargs)
        _synchronize(loaded.device)
        timings.append(time.perf_counter() - start)
    return output, timings[0], timings[1]


def _peak_gpu_memory(device: torch.device) -> int | None:
    import torch

    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


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
