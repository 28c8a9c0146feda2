"""Prompt enhancement (Sora's "recaptioning"): turn a short prompt into a detailed caption.

- ``base``: the ``PromptEnhancer`` interface;
- ``lexicon``: the rule enhancer's vocabulary tables and defaults;
- ``rule``: ``RuleEnhancer``, deterministic, no download (the default);
- ``llm``: ``LLMEnhancer``, a small local instruct LLM (needs an installed enhancer model).

``get_enhancer(name)`` is the factory. ``ENHANCERS`` names where each enhancer's class lives
and the class is imported only when asked for, so this package never imports the LLM code (and
the LLM module no longer registers itself by being imported).
"""

from __future__ import annotations

import importlib

from sora_desktop.engine.enhance.base import PromptEnhancer
from sora_desktop.engine.enhance.lexicon import (  # noqa: F401 - the old module's names
    _AXIS_PHRASES,
    _LEXICON,
    BACKGROUND_WORDS,
    CANONICAL_MOTION,
    DEFAULT_BACKGROUNDS,
    DEFAULT_COLORS,
    DEFAULT_MOTION,
    DEFAULT_SHAPE,
    EXTRA_COLORS,
    EXTRA_MOTIONS,
    EXTRA_SHAPES,
    FOREIGN_COLORS,
    GENERIC_DETAIL,
    PREPOSITIONS,
    STOPWORDS,
    STYLE_SUFFIX,
    _build_lexicon,
    _plural,
)
from sora_desktop.engine.enhance.rule import (  # noqa: F401
    _AXIS_WORD,
    ParsedObject,
    ParsedPrompt,
    RuleEnhancer,
    _article,
    _background_phrase,
    _default_color,
    _normalise,
    _object_phrase,
    _skippable,
    _tokenise,
    _unknown_noun,
    parse_prompt,
    write_caption,
)

# name -> "module:Class" (imported on first use) or a class given to ``register_enhancer``
ENHANCERS: dict[str, str | type[PromptEnhancer]] = {
    "rule": "sora_desktop.engine.enhance.rule:RuleEnhancer",
    "llm": "sora_desktop.engine.enhance.llm:LLMEnhancer",
}
_ENHANCERS = ENHANCERS  # the old name


def register_enhancer(name: str, cls: type[PromptEnhancer]) -> None:
    """Make another enhancer available under ``name``."""
    ENHANCERS[name] = cls


def enhancer_class(name: str) -> type[PromptEnhancer]:
    """The class behind ``name``; a ValueError naming the choices when there is none."""
    target = ENHANCERS.get(name) if isinstance(name, str) else None
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        try:
            target = getattr(importlib.import_module(module), attr)
        except ImportError:
            target = None  # a build without that enhancer's code
    if target is None:
        allowed = ", ".join(sorted(ENHANCERS))
        raise ValueError(f"enhancer: {name!r} is not available; allowed: {allowed}")
    return target


def get_enhancer(name: str = "rule") -> PromptEnhancer:
    return enhancer_class(name)()
