"""What a smoke run records: the model it loaded and each generation, read by its checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to generate, where it runs, and how long loading took."""

    hf_model: Any
    device: torch.device
    dtype: torch.dtype
    directory: Path
    # config.json as read: eos_agrees tells a value it sets from a transformers default.
    config: dict[str, Any]
    parameters: int
    load_s: float


@dataclass(frozen=True)
class Generation:
    """The card's prompt, what the model generated from it, and how long that took."""

    prompt: str
    prompt_ids: list[int]
    # Rows of the input embedding: the ids the model can take.
    rows: int
    new_ids: list[int] = field(default_factory=list)
    # The new ids decoded by the reference and cleaned up as the card does.
    text: str = ""
    output_device: torch.device | None = None
    warmup_s: float = 0.0
    generate_s: float = 0.0

    @property
    def generated(self) -> bool:
        # An id past the embedding would crash generate() (on CUDA, as a device-side assert that
        # poisons the process), so such a prompt is not run; embedding_rows reports it instead.
        return max(self.prompt_ids, default=0) < self.rows
