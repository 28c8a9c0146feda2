"""The prompt policy: a short, readable list of requests Sora Desktop refuses, with a reason.

Why it works this way:
- The rules are data (``resources/policy.json``), not code, so they can be read,
  reviewed and extended without a release. A ``policy.json`` in the user's config folder adds
  categories or terms; it cannot remove the bundled ones (turning the whole policy off is the
  ``policy_enabled`` setting, which the caller honours).
- Matching is on whole words and phrases, never substrings, so ordinary prompts ("shoot a video
  of a sunset", "a knight fights a dragon", "Essex countryside") pass. Categories whose words are
  harmless alone (a child; a nude statue) block only when *every* group of an ``all`` list
  matches (e.g. a sexual term together with a term for a minor).
- The prompt is normalised first (Unicode NFKC, case-folded, zero-width characters removed,
  punctuation turned into spaces, and a second pass with digits inside words read as letters:
  ``s3xy`` → ``sexy``; spaced letters joined: ``s.e.x.y`` → ``sexy``) so trivial spelling
  tricks do not slip through.
- A blocked result says which category and which words matched, in plain language, so a teacher
  or storyboard artist understands what to rephrase.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sora_desktop.core.assets import resources_dir
from sora_desktop.core.settings import default_paths

POLICY_FORMAT = "sora-desktop-policy"
POLICY_VERSION = 1
BUNDLED_POLICY = resources_dir() / "policy.json"
USER_POLICY_NAME = "policy.json"
MAX_POLICY_BYTES = 5 * 1024 * 1024
MAX_TERM_CHARS = 200

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_NOT_WORD = re.compile(r"[^\w]+|_+")
# Digits people type for letters; only applied inside tokens that also contain letters.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a"})
_SPACED_LETTERS = re.compile(r"(?<!\w)\w(?: \w(?!\w)){2,}")
_MIXED_TOKEN = re.compile(r"\b(?=\w*[a-z])(?=\w*\d)\w+\b")


class PolicyError(ValueError):
    """A policy file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class PolicyResult:
    """Outcome of a check. ``message`` is empty when allowed, a plain explanation otherwise."""

    allowed: bool
    category: str | None = None
    message: str = ""
    matched: tuple[str, ...] = ()
    category_name: str | None = None

    def __bool__(self) -> bool:  # ``if check_prompt(p):`` reads as "if allowed"
        return self.allowed


@dataclass(frozen=True)
class _Term:
    source: str
    regex: re.Pattern[str]


@dataclass
class PolicyCategory:
    """One kind of refused request."""

    id: str
    name: str
    message: str
    any: list[_Term] = field(default_factory=list)
    all: list[list[_Term]] = field(default_factory=list)
    exceptions: list[_Term] = field(default_factory=list)

    def match(self, variants: tuple[str, ...]) -> tuple[str, ...]:
        """Return the matched words (empty when this category does not apply)."""
        cleaned = tuple(_remove(v, self.exceptions) for v in variants)
        hits = _first_hit(self.any, cleaned)
        if hits:
            return (hits,)
        if not self.all:
            return ()
        found: list[str] = []
        for group in self.all:
            hit = _first_hit(group, cleaned)
            if not hit:
                return ()
            found.append(hit)
        return tuple(found)


@dataclass
class Policy:
    """The loaded rules plus where they came from and any problem with the user's file."""

    categories: list[PolicyCategory]
    sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def check(self, prompt: str) -> PolicyResult:
        if not isinstance(prompt, str):
            raise ValueError(f"prompt: expected text, got {type(prompt).__name__}")
        variants = normalize_variants(prompt)
        for category in self.categories:
            matched = category.match(variants)
            if matched:
                words = ", ".join(f"“{m}”" for m in matched)
                message = (
                    f"This prompt was not generated because it asks for {category.name}. "
                    f"{category.message} (Matched: {words}.) Please rephrase the prompt."
                )
                return PolicyResult(False, category.id, message, matched, category.name)
        return PolicyResult(True)


# ---------------------------------------------------------------------- normalisation
def normalize(text: str) -> str:
    """Lower-case words separated by single spaces, the form every pattern is matched against."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).casefold()
    return " ".join(_NOT_WORD.sub(" ", text).split())


def normalize_variants(text: str) -> tuple[str, ...]:
    plain = normalize(text)
    leet = _MIXED_TOKEN.sub(lambda m: m.group(0).translate(_LEET), plain)
    # "@" is punctuation to normalize(), so read "n@ked" as "naked" before it is dropped.
    at = normalize(text.replace("@", "a"))
    at_leet = _MIXED_TOKEN.sub(lambda m: m.group(0).translate(_LEET), at)
    # "s e x y" / "s.e.x.y": join runs of single letters back into a word.
    joined = _SPACED_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), at_leet)
    return tuple(dict.fromkeys((plain, leet, at_leet, joined)))


def _compile_term(term: Any, where: str) -> _Term:
    if not isinstance(term, str) or not term.strip():
        raise PolicyError(f"{where}: expected a word or phrase, got {term!r}")
    if len(term) > MAX_TERM_CHARS:
        raise PolicyError(f"{where}: longer than {MAX_TERM_CHARS} characters")
    if term.startswith("re:"):
        try:
            return _Term(term, re.compile(term[3:]))
        except re.error as exc:
            raise PolicyError(f"{where}: bad regular expression {term[3:]!r} ({exc})") from exc
    words: list[str] = []
    for token in term.split():
        star = token.endswith("*")
        parts = normalize(token.rstrip("*")).split()
        if not parts:
            continue
        words.extend(re.escape(w) for w in parts)
        if star:  # "dismember*" also matches "dismembered"
            words[-1] += r"\w*"
    if not words:
        raise PolicyError(f"{where}: {term!r} has no letters to match")
    return _Term(term, re.compile(r"(?<!\w)" + " ".join(words) + r"(?!\w)"))


def _first_hit(terms: list[_Term], variants: tuple[str, ...]) -> str:
    for term in terms:
        for text in variants:
            m = term.regex.search(text)
            if m:
                return m.group(0)
    return ""


def _remove(text: str, exceptions: list[_Term]) -> str:
    for term in exceptions:
        text = term.regex.sub(" ", text)
    return text


# ---------------------------------------------------------------------- loading
def _read_json(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_POLICY_BYTES:
            raise PolicyError(f"policy file {path}: {size} bytes is too large")
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except PolicyError:
        raise
    except OSError as exc:
        raise PolicyError(f"policy file {path}: cannot be read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"policy file {path}: not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise PolicyError(f"policy file {path}: not a readable JSON text file") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"policy file {path}: expected a JSON object")
    if data.get("format", POLICY_FORMAT) != POLICY_FORMAT:
        raise PolicyError(f"policy file {path}: not a Sora Desktop policy file")
    version = data.get("version", POLICY_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version > POLICY_VERSION:
        raise PolicyError(
            f"policy file {path}: version {version!r} is newer than this program reads "
            f"(up to {POLICY_VERSION})"
        )
    return data


def _term_list(value: Any, where: str) -> list[_Term]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(f"{where}: expected a list of words or phrases")
    return [_compile_term(t, f"{where}[{i}]") for i, t in enumerate(value)]


def _parse_categories(data: dict[str, Any], path: Path) -> list[PolicyCategory]:
    raw = data.get("categories", [])
    if not isinstance(raw, list):
        raise PolicyError(f"policy file {path}: 'categories' must be a list")
    out: list[PolicyCategory] = []
    for i, entry in enumerate(raw):
        where = f"policy file {path}: categories[{i}]"
        if not isinstance(entry, dict):
            raise PolicyError(f"{where}: expected an object")
        cid = entry.get("id")
        if not isinstance(cid, str) or not cid.strip():
            raise PolicyError(f"{where}: needs an 'id'")
        groups = entry.get("all") or []
        if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
            raise PolicyError(f"{where}.all: expected a list of lists of words")
        category = PolicyCategory(
            id=cid,
            name=str(entry.get("name") or cid),
            message=str(entry.get("message") or ""),
            any=_term_list(entry.get("any"), f"{where}.any"),
            all=[_term_list(g, f"{where}.all[{j}]") for j, g in enumerate(groups)],
            exceptions=_term_list(entry.get("except"), f"{where}.except"),
        )
        if any(not g for g in category.all):
            raise PolicyError(f"{where}.all: a group is empty, so it could never match")
        out.append(category)
    return out


def _merge(base: list[PolicyCategory], extra: list[PolicyCategory]) -> None:
    """Extend ``base`` in place: same id adds terms, a new id adds a category."""
    by_id = {c.id: c for c in base}
    for cat in extra:
        if cat.id not in by_id:
            base.append(cat)
            by_id[cat.id] = cat
            continue
        mine = by_id[cat.id]
        mine.any.extend(cat.any)
        if cat.all:
            if mine.all and len(cat.all) == len(mine.all):
                for group, more in zip(mine.all, cat.all, strict=True):
                    group.extend(more)
            elif not mine.all:
                mine.all = cat.all
            else:
                raise PolicyError(
                    f"category {cat.id!r}: 'all' must have {len(mine.all)} groups to extend the "
                    f"built-in one, it has {len(cat.all)}"
                )
        # Exceptions in a user file must not weaken a built-in category.


_DEFAULT = object()
_cache: dict[tuple[Any, ...], Policy] = {}


def user_policy_path() -> Path:
    return default_paths().config / USER_POLICY_NAME


def load_policy(path: str | os.PathLike | None = None, user_path: Any = _DEFAULT) -> Policy:
    """Load the policy.

    ``path`` replaces the bundled file (raises ``PolicyError`` if it is bad). ``user_path``
    (default: ``policy.json`` in the config folder; ``None`` for none) extends it; a bad user
    file does not disable the bundled rules: it is skipped and reported in ``Policy.warnings``.
    """
    base_path = Path(path) if path is not None else BUNDLED_POLICY
    extra_path = user_policy_path() if user_path is _DEFAULT else user_path
    extra_path = Path(extra_path) if extra_path is not None else None
    key = (str(base_path), _stamp(base_path), str(extra_path), _stamp(extra_path))
    cached = _cache.get(key)
    if cached is not None:
        return cached
    categories = _parse_categories(_read_json(base_path), base_path)
    policy = Policy(categories, sources=[str(base_path)])
    if extra_path is not None and extra_path.is_file():
        try:
            extra = _parse_categories(_read_json(extra_path), extra_path)
            _merge(policy.categories, extra)
            policy.sources.append(str(extra_path))
        except PolicyError as exc:
            # Re-parse the base so a half-applied merge cannot leak into the result.
            policy = Policy(_parse_categories(_read_json(base_path), base_path), [str(base_path)])
            policy.warnings.append(f"Your policy file was not used: {exc}")
    _cache.clear()
    _cache[key] = policy
    return policy


def _stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def check_prompt(prompt: str, policy: Policy | None = None) -> PolicyResult:
    """Check one prompt against ``policy`` (default: bundled rules plus the user's file)."""
    return (policy or load_policy()).check(prompt)


def check_request(request: Any, policy: Policy | None = None) -> PolicyResult:
    """Check a request's prompt, its timed prompts and, if prompt enhancement rewrote it, the
    user's own words."""
    policy = policy or load_policy()
    texts = [request.prompt]
    if getattr(request, "original_prompt", None):
        texts.append(request.original_prompt)
    texts.extend(t.prompt for t in getattr(request, "timed_prompts", ()))  # a long shot's
    for text in texts:
        result = policy.check(text)
        if not result.allowed:
            return result
    return PolicyResult(True)
