"""Teacher-forced loss of a text under each tokenisation: which ids was the model trained on?

Run by :mod:`tokcheck.smoke.run` with trained weights only. The text is tokenised by the
sentencepiece reference and by every Hugging Face loading path (:mod:`tokcheck.candidates.hf`),
and the model scores each id sequence; a loss clearly higher for one tokenisation means the
model was trained on the other. This module judges nothing: it reports the losses side by side.
"""

from __future__ import annotations

from typing import Any

from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import ResolvedModel


def teacher_forced_losses(
    hf_model: Any, resolved: ResolvedModel, model: SentencePieceModel, text: str
) -> list[dict[str, Any]]:
    """Loss of ``text`` under the reference ids and under each Hugging Face path's ids.

    Only meaningful with trained weights: a loss clearly higher for one tokenisation means the
    model was trained on the other. Special tokens are left out on every side, so only the
    tokenisation of the text differs. A path that fails to load is listed with its error.
    """
    from tokcheck.candidates.registry import load_candidates

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
