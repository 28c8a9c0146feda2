"""Prompt enhancement with a small local instruct LLM (Qwen2.5 0.5B/1.5B Instruct) via transformers.

The model rewrites a short idea into one detailed, concrete video prompt. It loads only from a
verified install in the models folder, only from safetensors, with ``trust_remote_code`` off; a
folder that asks for custom code (``auto_map``) or holds pickle files is refused. Generation is
seeded, so the same prompt gives the same enhancement. Reached as ``get_enhancer("llm")``.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from sora_desktop.core.catalog import CatalogEntry, installed_models, load_catalog
from sora_desktop.core.model_files import is_pickle_name
from sora_desktop.core.request import MAX_PROMPT_CHARS
from sora_desktop.engine.enhance.base import PromptEnhancer

SYSTEM_PROMPT = (
    "You turn a short idea into one prompt for a text-to-video model. Write a single paragraph "
    "of 40 to 80 words in plain English: the main subject and what it does, the setting, the "
    "lighting, the camera (shot size and movement) and the mood. Describe only what can be "
    "seen. Keep every detail the user gave. Reply with the prompt only, no title, no quotes."
)
_LABEL = re.compile(r"^\s*(enhanced prompt|prompt|video prompt|caption)\s*:\s*", re.IGNORECASE)


def check_llm_folder(folder: Path) -> None:
    """Refuse a folder that would make transformers run code or unpickle data."""
    if not (folder / "config.json").is_file():
        raise ValueError(f"enhancer: {folder} has no config.json; it is not a transformers model")
    bad = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and (is_pickle_name(p.name) or p.suffix == ".py")
    )
    if bad:
        raise ValueError(
            f"enhancer: {folder} contains files Sora Desktop will not load ({', '.join(bad[:3])})"
        )
    if not any(folder.glob("*.safetensors")):
        raise ValueError(f"enhancer: {folder} has no .safetensors weights")
    for name in ("config.json", "tokenizer_config.json"):
        path = folder / name
        if path.is_file() and "auto_map" in json.loads(path.read_text(encoding="utf-8")):
            raise ValueError(f"enhancer: {folder}/{name} asks for custom code; refusing to load it")


def clean_output(text: str, original: str) -> str:
    """One tidy paragraph; the user's prompt back when the model said nothing usable."""
    text = text.replace("\r", " ").strip()
    text = _LABEL.sub("", text)
    text = " ".join(text.split())
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    text = text.strip('"“” ')
    if len(text) > MAX_PROMPT_CHARS:
        cut = text[:MAX_PROMPT_CHARS]
        end = cut.rfind(". ")
        text = cut[: end + 1] if end > MAX_PROMPT_CHARS // 2 else cut.rstrip()
    return text or original


def _settings() -> Any:
    from sora_desktop.core.settings import load_settings

    return load_settings()


def default_enhancer_model(settings: Any = None) -> tuple[CatalogEntry, Path]:
    """The first installed enhancer model of the catalog, or a ValueError saying what to do."""
    cfg = settings if settings is not None else _settings()
    models_dir = Path(cfg.models_dir)
    for entry in installed_models(models_dir, load_catalog()):
        if entry.kind == "enhancer" and entry.backend == "transformers":
            return entry, entry.folder(models_dir)
    raise ValueError(
        "enhancer: no prompt-enhancer model is installed; download 'Qwen2.5 0.5B Instruct' in "
        "Models → Model Manager, or use the built-in rule enhancer"
    )


class LLMEnhancer(PromptEnhancer):
    """Rewrites prompts with a local instruct LLM; one model loaded per instance."""

    name = "llm"

    def __init__(
        self,
        model_dir: str | Path | None = None,
        entry: CatalogEntry | None = None,
        device: str = "auto",
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        seed: int = 0,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from sora_desktop.engine.device import pick_device

        if model_dir is None:
            entry, model_dir = default_enhancer_model()
        folder = Path(model_dir)
        check_llm_folder(folder)
        defaults = entry.defaults if entry is not None else {}
        self.max_new_tokens = int(max_new_tokens or defaults.get("max_new_tokens", 160))
        self.temperature = float(
            temperature if temperature is not None else defaults.get("temperature", 0.7)
        )
        if not 1 <= self.max_new_tokens <= 1024:
            raise ValueError(
                f"max_new_tokens: {self.max_new_tokens} is out of range; allowed 1 to 1024"
            )
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature: {self.temperature} is out of range; allowed 0.0 to 2.0")
        self.seed = seed
        self.device = pick_device(device)
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(
            str(folder), local_files_only=True, trust_remote_code=False
        )
        self.model = AutoModelForCausalLM.from_pretrained(
            str(folder),
            dtype=dtype,
            use_safetensors=True,
            local_files_only=True,
            trust_remote_code=False,
        ).to(self.device)
        self.model.eval()
        self._lock = threading.Lock()
        self._torch = torch

    def enhance(self, prompt: str) -> str:
        if not isinstance(prompt, str):
            raise ValueError(f"prompt: expected str, got {type(prompt).__name__}")
        text = " ".join(prompt.split())
        if not text:
            raise ValueError("prompt: must not be empty; type a short idea to enhance")
        torch = self._torch
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": text},
        ]
        inputs = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        sample = self.temperature > 0
        gen_kwargs: dict[str, Any] = dict(
            max_new_tokens=self.max_new_tokens,
            do_sample=sample,
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        if sample:
            gen_kwargs.update(temperature=self.temperature, top_p=0.9)
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with self._lock, torch.inference_mode(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)  # same prompt → same enhancement
            out = self.model.generate(**inputs, **gen_kwargs)
        new = out[0, inputs["input_ids"].shape[1] :]
        return clean_output(self.tokenizer.decode(new, skip_special_tokens=True), text)

    def unload(self) -> None:
        self.model = None
        if self.device.type == "cuda":
            self._torch.cuda.empty_cache()
