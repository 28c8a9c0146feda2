"""What the built-in model can draw, in words: the one check the editor and the CLI share.

The built-in model was trained only on the procedural world of ``engine/embedded/world.py``
(shapes, colours, motions, backgrounds); a prompt about a cat in the rain comes out as coloured
noise. ``unknown_words`` lists the words of a prompt outside that world, so the user hears it
before generating. The known words are not written here: they are read from the world's caption
grammar and the rule enhancer's synonyms (``core/embedded_words.py``: plain data, so the editor
checks a prompt without loading OpenCV or the model).
"""

from __future__ import annotations

import re
from functools import lru_cache

from sora_desktop.core import embedded_words as lexicon
from sora_desktop.core.request import EMBEDDED_MODEL_ID

# prompts the built-in model draws well (the editor offers them; clicking one fills the prompt)
EXAMPLE_PROMPTS: tuple[str, ...] = (
    "a red circle bounces up and down on a plain green background",
    "a yellow star moves to the left on a blue background",
    "a white square grows on a purple background",
    "a pink triangle orbits the center on a black background",
)
# the part of the warning that says what the model knows (the editor and the CLI)
KNOWS = "The built-in model knows only shapes, colours and motions"
# filler words a caption may hold that carry no picture (beyond the enhancer's stop words)
_FILLER = frozenset(
    "moving move going goes go object objects shape shapes colour color coloured colored "
    "frame picture image its their there".split()
)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Every word of the built-in model's world: its captions' grammar, the enhancer's synonyms
    and stop words. Colours the model never saw (grey, brown, …) are not among them."""
    foreign = set(lexicon.FOREIGN_COLORS)
    words: set[str] = set(lexicon.STOPWORDS) | _FILLER
    for phrase, _kind, _value in lexicon._LEXICON:
        if phrase not in foreign:
            words.update(_words(phrase))
    # the caption templates' own words ("a video of …", "… gradient from red to blue …")
    for template in ("a video of", "on a gradient background from to top bottom left right"):
        words.update(_words(template))
    words.update(lexicon.COLORS)
    return frozenset(words)


def unknown_words(prompt: str) -> list[str]:
    """The prompt's words the built-in model does not know, each once, in the prompt's order
    (stop words, numbers and known synonyms are not listed)."""
    known = known_words()
    out: list[str] = []
    for word in _words(prompt):
        if word not in known and word not in out:
            out.append(word)
    return out


def checks_model(model_id: str) -> bool:
    """Whether the vocabulary applies: only the built-in model is limited to its world."""
    return model_id == EMBEDDED_MODEL_ID


def _listed(words: list[str]) -> str:
    return ", ".join(f"“{w}”" for w in words)


def editor_warning(words: list[str]) -> str:
    """The editor's line under the prompt (empty when every word is known)."""
    if not words:
        return ""
    return (
        f"{KNOWS}; it cannot draw {_listed(words)} and will make coloured blobs. "
        "For real footage, get a model in Models → Model manager."
    )


def cli_warning(words: list[str]) -> str:
    """What ``sora-desktop generate`` prints on stderr (empty when every word is known)."""
    if not words:
        return ""
    return (
        f"warning: {KNOWS[0].lower()}{KNOWS[1:]}; it cannot draw "
        f"{', '.join(words)}. For real footage, install a model: sora-desktop models list"
    )
