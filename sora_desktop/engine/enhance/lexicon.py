"""The rule enhancer's vocabulary: the world's words plus everyday synonyms, and the defaults.

``_LEXICON`` is the table the tokenizer matches against, longest phrase first.
"""

from __future__ import annotations

from sora_desktop.engine.embedded.world import (
    COLOR_SYNONYMS,
    MOTION_PHRASES,
    SHAPE_SYNONYMS,
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

# everyday words beyond the training vocabulary → palette colour
EXTRA_COLORS = {
    "red": ["maroon", "ruby", "cherry"],
    "orange": ["amber", "peach"],
    "yellow": ["gold", "lemon"],
    "green": ["lime", "jade", "olive"],
    "cyan": ["teal", "sky blue", "light blue"],
    "blue": ["navy", "azure", "sapphire", "dark blue"],
    "purple": ["lavender", "indigo", "lilac", "plum"],
    "pink": ["magenta", "fuchsia", "salmon"],
    "white": ["ivory", "cream"],
    "black": ["jet", "ebony", "charcoal", "dark"],
}
# colours the model does not know; kept as the user wrote them
FOREIGN_COLORS = ("gray", "grey", "brown", "silver", "beige", "tan")

EXTRA_SHAPES = {
    "circle": ["sphere", "orb", "ring", "round", "bubble", "blob"],
    "square": ["rectangle", "tile", "brick"],
    "triangle": ["cone"],
    "star": ["sparkle"],
}

# keyword motions, applied after the full phrases of the training grammar
EXTRA_MOTIONS: dict[str, list[str]] = {
    "up-left": [
        "upper left",
        "top left",
        "up left",
        "up-left",
        "upleft",
        "northwest",
        "north west",
        "north-west",
    ],
    "up-right": [
        "upper right",
        "top right",
        "up right",
        "up-right",
        "upright",
        "northeast",
        "north east",
        "north-east",
    ],
    "down-left": [
        "lower left",
        "bottom left",
        "down left",
        "down-left",
        "southwest",
        "south west",
        "south-west",
    ],
    "down-right": [
        "lower right",
        "bottom right",
        "down right",
        "down-right",
        "southeast",
        "south east",
        "south-east",
    ],
    "bouncing": [
        "left and right",
        "right and left",
        "bouncing",
        "bounces",
        "bounce",
        "bouncy",
        "back and forth",
        "side to side",
        "ping pong",
        "ping-pong",
        "zigzag",
        "to and fro",
    ],
    "orbiting": [
        "orbiting",
        "orbits",
        "orbit",
        "circling",
        "circles around",
        "goes around",
        "going around",
        "revolving",
        "revolves",
        "in a circle",
        "round and round",
        "spinning around",
        "spins around",
    ],
    "growing": [
        "growing",
        "grow",
        "expanding",
        "expand",
        "enlarging",
        "bigger",
        "larger",
        "inflating",
        "inflates",
        "zooming in",
        "zooms in",
        "swelling",
    ],
    "shrinking": [
        "shrinking",
        "shrink",
        "contracting",
        "contract",
        "smaller",
        "deflating",
        "deflates",
        "zooming out",
        "zooms out",
        "vanishing",
    ],
    "still": [
        "still",
        "static",
        "stationary",
        "motionless",
        "not moving",
        "no motion",
        "does not move",
        "doesn't move",
        "resting",
        "rests",
        "sitting",
        "sits",
        "frozen",
        "idle",
        "in place",
        "standing",
    ],
    "left": [
        "from right to left",
        "right to left",
        "leftward",
        "leftwards",
        "to the left",
        "left",
        "west",
        "westward",
        "from right to left",
        "right to left",
    ],
    "right": [
        "from left to right",
        "left to right",
        "rightward",
        "rightwards",
        "to the right",
        "right",
        "east",
        "eastward",
        "from left to right",
        "left to right",
    ],
    "up": [
        "from bottom to top",
        "bottom to top",
        "upward",
        "upwards",
        "up",
        "rising",
        "rise",
        "ascending",
        "ascends",
        "climbing",
        "lifting",
        "floating up",
        "flying up",
        "jumps up",
        "north",
        "skyward",
    ],
    "down": [
        "from top to bottom",
        "top to bottom",
        "downward",
        "downwards",
        "down",
        "falling",
        "fall",
        "falls",
        "dropping",
        "drops",
        "descending",
        "descends",
        "sinking",
        "sinks",
        "south",
        "plummets",
        "plummeting",
    ],
}

BACKGROUND_WORDS = (
    "background",
    "backdrop",
    "bg",
    "backgrounds",
    "sky",
    "screen",
    "wall",
    "canvas",
    "field",
)
PREPOSITIONS = ("on", "against", "over", "onto", "atop", "upon", "in front of")
STOPWORDS = frozenset(
    "a an the and with of in on at to from is are be it its that which this video clip scene "
    "shot film movie animation very slowly quickly fast slow small big large tiny little "
    "huge bright light plain solid one two three some single simple shiny glowing then while "
    "as by for into onto over against across along toward towards around".split()
)


def _plural(word: str) -> list[str]:
    if word.endswith(("x", "s", "sh", "ch")):
        return [word, word + "es"]
    return [word, word + "s"]


def _build_lexicon() -> list[tuple[str, str, str]]:
    """(phrase, kind, value), longest phrase first so 'navy blue' wins over 'blue'."""
    entries: list[tuple[str, str, str]] = []
    for canon, phrases in MOTION_PHRASES.items():
        for ph in phrases:
            entries.append((ph, "M", canon))
    for canon, phrases in EXTRA_MOTIONS.items():
        for ph in phrases:
            entries.append((ph, "M", canon))
    for canon, words in COLOR_SYNONYMS.items():
        for w in [canon, *words, *EXTRA_COLORS.get(canon, [])]:
            entries.append((w, "C", canon))
    for w in FOREIGN_COLORS:
        entries.append((w, "C", w))
    for canon, words in SHAPE_SYNONYMS.items():
        for w in [canon, *words, *EXTRA_SHAPES.get(canon, [])]:
            for form in _plural(w):
                entries.append((form, "S", canon))
    for w in BACKGROUND_WORDS:
        entries.append((w, "B", "background"))
    entries.append(("gradient", "G", "gradient"))
    entries.append(("fading", "G", "gradient"))
    entries.append(("fades", "G", "gradient"))
    entries.append(("in front of", "P", "on"))
    for w in ("on", "against", "over", "onto", "atop", "upon"):
        entries.append((w, "P", "on"))
    seen: set[str] = set()
    unique = []
    # motion phrases beat colour words ("jet" vs "drifts"), so sort by length, then kind M first
    for ph, kind, value in sorted(entries, key=lambda e: (-len(e[0]), e[1] != "M")):
        if ph not in seen:
            seen.add(ph)
            unique.append((ph, kind, value))
    return unique


_LEXICON = _build_lexicon()
_AXIS_PHRASES = [
    ("from top to bottom", "vertical"),
    ("top to bottom", "vertical"),
    ("vertical", "vertical"),
    ("vertically", "vertical"),
    ("from bottom to top", "vertical-flip"),
    ("bottom to top", "vertical-flip"),
    ("from left to right", "horizontal"),
    ("left to right", "horizontal"),
    ("horizontal", "horizontal"),
    ("horizontally", "horizontal"),
    ("from right to left", "horizontal-flip"),
    ("right to left", "horizontal-flip"),
]
