"""Prompt enhancement (Sora's "recaptioning"): turn a short prompt into a detailed caption.

The embedded model learned from captions in one grammar (``embedded/world.py``). Users type
"red ball right"; the model understands "a red circle moves to the right on a black
background" best. ``RuleEnhancer`` parses the prompt with the world's vocabulary plus everyday
synonyms, fills in what is missing (a background, a motion) and writes the canonical caption.
It is deterministic and needs no download. Prompts it cannot parse keep the user's words and
get generic detail appended. ``get_enhancer`` is the factory; an LLM-based enhancer can sit
behind the same ``PromptEnhancer`` interface.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

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


@dataclass
class ParsedObject:
    color: str | None  # palette name, a foreign colour word, or None
    shape: str | None  # palette shape, the user's own noun, or None
    motion: str | None


@dataclass
class ParsedPrompt:
    objects: list[ParsedObject] = field(default_factory=list)
    background: str | None = None
    background2: str | None = None
    gradient_axis: str = "vertical"

    @property
    def understood(self) -> bool:
        return bool(self.objects)


class PromptEnhancer(ABC):
    """Rewrites a user's prompt into a detailed caption; never returns an empty string."""

    name: str = "base"

    @abstractmethod
    def enhance(self, prompt: str) -> str: ...


# ---------------------------------------------------------------------------------------------
#                                       lexicon
# ---------------------------------------------------------------------------------------------


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


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^a-z0-9'\- ,.;:!?]+", " ", text)
    text = re.sub(r"([,.;:!?])", r" \1 ", text)
    return " " + re.sub(r"\s+", " ", text).strip() + " "


_AXIS_WORD = "zzaxis"


def _tokenise(prompt: str) -> list[tuple[str, str]]:
    """Tokens as (kind, value): C colour, S shape, M motion, B background word, G gradient,
    P preposition, A gradient axis, "," clause break, W any other word."""
    text = _normalise(prompt)
    g = re.search(r"\b(gradient|fading|fades)\b", text)
    if g:
        # the gradient's direction comes after the word "gradient"; "travels from left to
        # right" is a motion, and so is "moves from left to right" before the gradient
        head, tail = text[: g.start()], text[g.start() :]
        for ph, axis in _AXIS_PHRASES:
            pattern = rf"(?<!travels)(?<!travels from)(?<!moves)(?<!moves from) {re.escape(ph)} "
            tail, n = re.subn(pattern, f" {_AXIS_WORD}{axis} ", tail, count=1)
            if n:
                break
        text = head + tail
    marks: list[tuple[int, int, str, str]] = []
    taken = [False] * len(text)
    for ph, kind, value in _LEXICON:
        for m in re.finditer(rf"(?<![a-z0-9'\-]){re.escape(ph)}(?![a-z0-9'\-])", text):
            s, e = m.span()
            if any(taken[s:e]):
                continue
            for i in range(s, e):
                taken[i] = True
            marks.append((s, e, kind, value))
    marks.sort()
    tokens: list[tuple[str, str]] = []
    pos = 0

    def words(chunk: str) -> None:
        for part in chunk.split():
            if part.startswith(_AXIS_WORD):
                tokens.append(("A", part[len(_AXIS_WORD) :]))
            elif part in ",.;:!?":
                tokens.append((",", part))
            else:
                tokens.append(("W", part))

    for s, e, kind, value in marks:
        words(text[pos:s])
        tokens.append((kind, value))
        pos = e
    words(text[pos:])
    return tokens


# ---------------------------------------------------------------------------------------------
#                                       parsing
# ---------------------------------------------------------------------------------------------


def _skippable(tok: tuple[str, str]) -> bool:
    return tok[0] == "W" and tok[1] in STOPWORDS


def parse_prompt(prompt: str) -> ParsedPrompt:
    """Objects (colour, shape, motion) and background named in ``prompt``."""
    tokens = _tokenise(prompt)
    parsed = ParsedPrompt()
    used = [False] * len(tokens)

    # --- gradient background: colours next to the word "gradient" or after "from ... to"
    g_idx = [i for i, t in enumerate(tokens) if t[0] == "G"]
    if g_idx:
        gi = g_idx[0]
        before = [i for i in range(gi - 1, max(-1, gi - 6), -1) if tokens[i][0] == "C"]
        after = [i for i in range(gi + 1, min(len(tokens), gi + 8)) if tokens[i][0] == "C"]
        # "gradient from red to blue" (colours after) or "red to blue gradient" (before)
        pair = after[:2] if len(after) >= 2 else sorted(before[:2])
        if len(pair) == 2:
            parsed.background = tokens[pair[0]][1]
            parsed.background2 = tokens[pair[1]][1]
            for i in pair:
                used[i] = True
            used[gi] = True
            for i, t in enumerate(tokens):
                if t[0] == "A":
                    axis = t[1]
                    if axis.endswith("-flip"):
                        parsed.background, parsed.background2 = (
                            parsed.background2,
                            parsed.background,
                        )
                        axis = axis[: -len("-flip")]
                    parsed.gradient_axis = axis
                    used[i] = True
                    break
            # the prepositions/background words around the gradient belong to it
            for i in range(max(0, gi - 6), min(len(tokens), gi + 8)):
                if tokens[i][0] in ("B", "P"):
                    used[i] = True

    # --- solid background: "<colour> background" or "on/against <colour>" not followed by a shape
    if parsed.background is None:
        for i, (kind, value) in enumerate(tokens):
            if kind != "C" or used[i]:
                continue
            j = i + 1
            while j < len(tokens) and _skippable(tokens[j]):
                j += 1
            if j < len(tokens) and tokens[j][0] == "B":
                parsed.background = value
                used[i] = used[j] = True
                break
            k = i - 1
            while k >= 0 and _skippable(tokens[k]):
                k -= 1
            nxt = tokens[j] if j < len(tokens) else (",", "")
            if k >= 0 and tokens[k][0] == "P" and nxt[0] not in ("S", "W", "C"):
                parsed.background = value
                used[i] = used[k] = True
                break

    # --- objects: colours attach to the next shape; motions to the object they follow
    pending_colors: list[int] = []
    pending_motion: str | None = None
    objects: list[ParsedObject] = []
    clause_has_object = False
    clause_start = 0

    def flush_colours(shape: str | None) -> None:
        nonlocal pending_colors, pending_motion, clause_has_object
        if not pending_colors:
            return
        for ci in pending_colors:
            noun = shape
            if noun is None:
                noun = _unknown_noun(tokens, ci, used)
            objects.append(ParsedObject(tokens[ci][1], noun, pending_motion))
        pending_colors = []
        pending_motion = None
        clause_has_object = True

    for i, (kind, value) in enumerate(tokens):
        if used[i]:
            continue
        if kind == "C":
            pending_colors.append(i)
        elif kind == "S":
            if pending_colors:
                flush_colours(value)
            else:
                objects.append(ParsedObject(None, value, pending_motion))
                pending_motion = None
            clause_has_object = True
        elif kind == "M":
            if pending_colors:
                # "red right": a colour with no shape word before its motion
                flush_colours(None)
                if objects[-1].motion is None:
                    objects[-1].motion = value
            elif objects and objects[-1].motion is None and clause_has_object:
                # "a red ball and a blue box move left": every object of the clause moves
                for obj in objects[clause_start:]:
                    if obj.motion is None:
                        obj.motion = value
            else:
                pending_motion = value
        elif kind == ",":
            flush_colours(None)
            clause_has_object = False
            clause_start = len(objects)
    flush_colours(None)
    if pending_motion is not None and objects and objects[-1].motion is None:
        objects[-1].motion = pending_motion
    parsed.objects = objects
    return parsed


def _unknown_noun(tokens: list[tuple[str, str]], ci: int, used: list[bool]) -> str | None:
    """The user's own noun right after a colour ("red dog"), kept rather than replaced."""
    j = ci + 1
    while j < len(tokens) and _skippable(tokens[j]):
        j += 1
    if j < len(tokens) and tokens[j][0] == "W" and not used[j]:
        word = tokens[j][1]
        if word.isalpha() and len(word) >= 3 and word not in STOPWORDS:
            return word
    return None


# ---------------------------------------------------------------------------------------------
#                                       writing
# ---------------------------------------------------------------------------------------------


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _default_color(parsed: ParsedPrompt) -> str:
    return next(c for c in DEFAULT_COLORS if c not in (parsed.background, parsed.background2))


def _object_phrase(obj: ParsedObject, default_color: str) -> str:
    color = obj.color or default_color
    shape = obj.shape or DEFAULT_SHAPE
    motion = CANONICAL_MOTION[obj.motion or DEFAULT_MOTION]
    return f"{_article(color)} {color} {shape} {motion}"


def _background_phrase(parsed: ParsedPrompt) -> str:
    if parsed.background is not None and parsed.background2 is not None:
        where = "from top to bottom" if parsed.gradient_axis == "vertical" else "from left to right"
        return f"on a gradient background from {parsed.background} to {parsed.background2} {where}"
    if parsed.background is not None:
        return f"on {_article(parsed.background)} {parsed.background} background"
    used = {o.color or _default_color(parsed) for o in parsed.objects}
    bg = next(c for c in DEFAULT_BACKGROUNDS if c not in used)
    return f"on a {bg} background"


def write_caption(parsed: ParsedPrompt) -> str:
    parts = [_object_phrase(o, _default_color(parsed)) for o in parsed.objects]
    subject = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    # the style words go last: the text encoder truncates long prompts from the end
    return f"{subject} {_background_phrase(parsed)}, {STYLE_SUFFIX}"


class RuleEnhancer(PromptEnhancer):
    """Deterministic rewrite into the embedded model's caption grammar; no download."""

    name = "rule"

    def parse(self, prompt: str) -> ParsedPrompt:
        return parse_prompt(prompt)

    def enhance(self, prompt: str) -> str:
        if not isinstance(prompt, str):
            raise ValueError(f"prompt: expected str, got {type(prompt).__name__}")
        text = " ".join(prompt.split())
        parsed = parse_prompt(text)
        if parsed.understood:
            return write_caption(parsed)
        if not text:
            return GENERIC_DETAIL
        if GENERIC_DETAIL in text:  # already enriched: enhancing twice changes nothing
            return text
        return f"{text.rstrip(' .,;')}, {GENERIC_DETAIL}"


_ENHANCERS: dict[str, type[PromptEnhancer]] = {"rule": RuleEnhancer}


def register_enhancer(name: str, cls: type[PromptEnhancer]) -> None:
    """Make another enhancer (e.g. an LLM one) available under ``name``."""
    _ENHANCERS[name] = cls


def get_enhancer(name: str = "rule") -> PromptEnhancer:
    if name == "llm" and name not in _ENHANCERS:
        try:  # the open-weight-models part provides it
            from sora_desktop.engine import llm_enhancer  # noqa: F401
        except ImportError:
            pass
    if name not in _ENHANCERS:
        allowed = ", ".join(sorted(_ENHANCERS))
        raise ValueError(f"enhancer: {name!r} is not available; allowed: {allowed}")
    return _ENHANCERS[name]()
