"""The rule enhancer's vocabulary: the world's words plus everyday synonyms, and the defaults.

``_LEXICON`` is the table the tokenizer matches against, longest phrase first.
"""

from __future__ import annotations

from sora_desktop.core.embedded_words import (  # noqa: F401 - the enhancer's names
    _AXIS_PHRASES,
    _LEXICON,
    BACKGROUND_WORDS,
    COLOR_SYNONYMS,
    EXTRA_COLORS,
    EXTRA_MOTIONS,
    EXTRA_SHAPES,
    FOREIGN_COLORS,
    MOTION_PHRASES,
    PREPOSITIONS,
    SHAPE_SYNONYMS,
    STOPWORDS,
    _build_lexicon,
    _plural,
)

DEFAULT_MOTION = "right"
# tried in order: the first that differs from the background
DEFAULT_COLORS = ("white", "red", "yellow")
DEFAULT_SHAPE = "circle"
# tried in order: the first not used by an object
DEFAULT_BACKGROUNDS = ("black", "white", "blue")
STYLE_SUFFIX = "smooth steady motion"
GENERIC_DETAIL = "a single clear subject on a plain background, smooth steady motion"

# the phrase the enhanced caption uses for each motion (all from the training grammar)
CANONICAL_MOTION = {
    "left": "moves to the left",
    "right": "moves to the right",
    "up": "moves up",
    "down": "moves down",
    "up-left": "moves up and to the left",
    "up-right": "moves up and to the right",
    "down-left": "moves down and to the left",
    "down-right": "moves down and to the right",
    "bouncing": "bounces left and right",
    "growing": "grows",
    "shrinking": "shrinks",
    "orbiting": "orbits the center",
    "still": "stays still",
}
