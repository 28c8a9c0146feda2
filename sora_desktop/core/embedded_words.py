"""The built-in model's words: the procedural world's vocabulary (shapes, colours, motions and
the caption grammar's phrases) and the everyday synonyms the rule enhancer maps onto them.

Plain data, no numpy, no OpenCV: the world (``engine/embedded/world.py``, which trains and
draws), the rule enhancer (``engine/enhance/lexicon.py``) and the editor's check of what the
built-in model can draw (``studio/vocabulary.py``) all read these tables from here.
"""

from __future__ import annotations

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (40, 180, 60),
    "cyan": (40, 210, 220),
    "blue": (30, 60, 220),
    "purple": (140, 50, 190),
    "pink": (245, 130, 190),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
COLOR_SYNONYMS: dict[str, list[str]] = {
    "red": ["red", "crimson", "scarlet"],
    "orange": ["orange", "tangerine"],
    "yellow": ["yellow", "golden"],
    "green": ["green", "emerald"],
    "cyan": ["cyan", "turquoise", "aqua"],
    "blue": ["blue", "navy blue", "cobalt"],
    "purple": ["purple", "violet"],
    "pink": ["pink", "rose"],
    "white": ["white", "snow white"],
    "black": ["black", "jet black"],
}
SHAPES = ("circle", "square", "triangle", "star")
SHAPE_SYNONYMS: dict[str, list[str]] = {
    "circle": ["circle", "ball", "disc", "dot"],
    "square": ["square", "box", "block", "cube"],
    "triangle": ["triangle", "pyramid", "wedge"],
    "star": ["star", "five-pointed star"],
}
MOTIONS = (
    "left",
    "right",
    "up",
    "down",
    "up-left",
    "up-right",
    "down-left",
    "down-right",
    "bouncing",
    "growing",
    "shrinking",
    "orbiting",
    "still",
)
DIRECTIONS: dict[str, tuple[float, float]] = {  # unit (dx, dy), image y points down
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "up-left": (-0.7071, -0.7071),
    "up-right": (0.7071, -0.7071),
    "down-left": (-0.7071, 0.7071),
    "down-right": (0.7071, 0.7071),
}
MOTION_PHRASES: dict[str, list[str]] = {
    "left": [
        "moves left",
        "moves to the left",
        "slides left",
        "travels from right to left",
        "drifts leftward",
    ],
    "right": [
        "moves right",
        "moves to the right",
        "slides right",
        "travels from left to right",
        "drifts rightward",
    ],
    "up": ["moves up", "rises", "floats upward", "travels from bottom to top", "climbs"],
    "down": ["moves down", "falls", "drops", "sinks downward", "travels from top to bottom"],
    "up-left": [
        "moves up and to the left",
        "moves diagonally to the upper left",
        "drifts toward the top left corner",
    ],
    "up-right": [
        "moves up and to the right",
        "moves diagonally to the upper right",
        "drifts toward the top right corner",
    ],
    "down-left": [
        "moves down and to the left",
        "moves diagonally to the lower left",
        "drifts toward the bottom left corner",
    ],
    "down-right": [
        "moves down and to the right",
        "moves diagonally to the lower right",
        "drifts toward the bottom right corner",
    ],
    "bouncing": ["bounces left and right", "bounces from side to side", "bounces back and forth"],
    "growing": ["grows", "gets bigger", "expands", "grows larger"],
    "shrinking": ["shrinks", "gets smaller", "contracts", "shrinks away"],
    "orbiting": ["orbits the center", "circles around the middle", "moves in a circle"],
    "still": ["stays still", "sits still", "rests in place", "does not move"],
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
