"""``RuleEnhancer``: rewrite a prompt into the embedded model's caption grammar, no download.

The embedded model learned from captions in one grammar (``embedded/world.py``). Users type
"red ball right"; the model understands "a red circle moves to the right on a black
background" best. ``RuleEnhancer`` parses the prompt with the world's vocabulary plus everyday
synonyms (``lexicon.py``), fills in what is missing (a background, a motion) and writes the
canonical caption. It is deterministic. Prompts it cannot parse keep the user's words and get
generic detail appended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sora_desktop.engine.enhance.base import PromptEnhancer
from sora_desktop.engine.enhance.lexicon import (
    _AXIS_PHRASES,
    _LEXICON,
    CANONICAL_MOTION,
    DEFAULT_BACKGROUNDS,
    DEFAULT_COLORS,
    DEFAULT_MOTION,
    DEFAULT_SHAPE,
    GENERIC_DETAIL,
    STOPWORDS,
    STYLE_SUFFIX,
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
