"""The LLM prompt enhancer's old home; it lives in ``sora_desktop.engine.enhance.llm`` now."""

from sora_desktop.engine.enhance.base import PromptEnhancer  # noqa: F401
from sora_desktop.engine.enhance.llm import (  # noqa: F401
    _LABEL,
    SYSTEM_PROMPT,
    LLMEnhancer,
    _settings,
    check_llm_folder,
    clean_output,
    default_enhancer_model,
)
