"""The built-in model's text encoder (engine/minilm.py, read without transformers' model
machinery) gives what transformers' BertModel and tokenizer give for the same MiniLM files:
the same tokens and mask, the same last hidden state; and loading it imports no transformers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from sora_desktop.engine.text_encoder import MAX_TOKENS, TextEncoder, minilm_path

ROOT = Path(__file__).resolve().parents[1]

PROMPTS = [
    "a red circle moves right on a blue background",
    "A Yellow STAR, rising slowly... on a purple background!",
    "",
    "an orange triangle " * 40,  # longer than MAX_TOKENS: truncated, [SEP] kept
    "café naïve jalapeño — 3 dragons",
]


def test_same_tokens_mask_and_hidden_states_as_transformers():
    from transformers import AutoModel, AutoTokenizer

    path = minilm_path()
    ours = TextEncoder(path)
    out, mask = ours.encode(PROMPTS)

    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    ref_model = AutoModel.from_pretrained(str(path), local_files_only=True, use_safetensors=True)
    ref_model.eval()
    batch = tok(
        [p.lower() for p in PROMPTS],
        padding="max_length",
        truncation=True,
        max_length=MAX_TOKENS,
        return_tensors="pt",
    )
    with torch.no_grad():
        ref = ref_model(**batch).last_hidden_state.float()

    ids = torch.tensor([e.ids for e in ours.tokenizer.encode_batch([p.lower() for p in PROMPTS])])
    assert torch.equal(ids, batch["input_ids"])
    assert torch.equal(mask, batch["attention_mask"].bool())
    assert out.shape == (len(PROMPTS), MAX_TOKENS, ours.dim) == ref.shape
    kept = mask[..., None].expand_as(out)  # padded positions are masked out downstream
    assert torch.allclose(out[kept], ref[kept], atol=1e-4, rtol=1e-4)


def test_loading_the_encoder_imports_no_transformers():
    code = (
        "import sys\n"
        "from sora_desktop.engine.text_encoder import TextEncoder\n"
        "TextEncoder().encode(['a red ball'])\n"
        "print(sorted(m for m in ('transformers', 'diffusers') if m in sys.modules))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split("\n")[-2] == "[]"
