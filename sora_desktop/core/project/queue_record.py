"""The project's record of its generation queue: which takes were waiting or running, in order.

Why it exists: a queue lives in memory (``studio/queue.py``), so a crash, a kill or a normal
close lost it; Wan2GP users lost an 83-entry queue that way. The project now keeps the ordered
list of its unfinished jobs (``Project.queue``), written with every save and every recovery
copy, and ``studio/resume.py`` offers them again when the project is opened.

Each entry names a shot, one of its takes and the kind of job:
- ``take``: a take of the shot (Generate / Generate all), run with the take's own request;
- ``variation``: the same, as a variation (it keeps the user's picked take when it finishes);
- ``decode``: "Retry in low memory" (decode the take's saved latents, no denoising).

The take's request, start/end images and latents are already stored with the take, so the entry
holds only names. In the file (an optional key of version 1; an older reader ignores it)::

    "queue": [{"shot": "<shot id>", "take": "<take id>", "kind": "take"}, ...]

The file is the user's and may be edited: a queue that is not a list, or is absurdly long, is
ignored as a whole; an entry with a bad id or kind, or naming the same take twice, is ignored;
either way with one plain note in ``Project.warnings``, and the project still opens (the queue
is a convenience; refusing the storyboard over it would lose more than it saves). Entries
naming a shot or take that is not in the project are dropped when the queue is offered
(``studio.resume.pending_jobs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sora_desktop.core.project.model import _ID_RE

QUEUE_KEY = "queue"
QUEUE_KINDS: tuple[str, ...] = ("take", "variation", "decode")
# Generous (10 takes for each of the 10 000 shots a project may hold), but bounded.
MAX_QUEUE_ENTRIES = 100_000


@dataclass(frozen=True)
class QueuedJob:
    """One unfinished job of the project's queue (see the module docstring)."""

    shot_id: str
    take_id: str
    kind: str = "take"

    def __post_init__(self) -> None:
        for name, value in (("shot_id", self.shot_id), ("take_id", self.take_id)):
            if not isinstance(value, str) or not _ID_RE.match(value):
                raise ValueError(f"{name}: {value!r} is not a valid id")
        if self.kind not in QUEUE_KINDS:
            raise ValueError(f"kind: {self.kind!r} is not one of {', '.join(QUEUE_KINDS)}")

    def to_dict(self) -> dict[str, str]:
        return {"shot": self.shot_id, "take": self.take_id, "kind": self.kind}


def parse_queue(raw: Any) -> tuple[list[QueuedJob], list[str]]:
    """The queue stored in a project file, and notes about anything in it that was ignored."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], ["The list of shots waiting to be generated is damaged, so it was ignored."]
    if len(raw) > MAX_QUEUE_ENTRIES:
        return [], [
            f"The list of shots waiting to be generated has {len(raw)} entries (at most "
            f"{MAX_QUEUE_ENTRIES} are allowed), so it was ignored."
        ]
    jobs: list[QueuedJob] = []
    seen: set[str] = set()
    bad: list[int] = []
    for number, entry in enumerate(raw, 1):
        try:
            if not isinstance(entry, dict):
                raise ValueError("not an object")
            job = QueuedJob(entry.get("shot"), entry.get("take"), entry.get("kind", "take"))
        except (ValueError, TypeError):
            bad.append(number)
            continue
        if job.take_id in seen:
            bad.append(number)
            continue
        seen.add(job.take_id)
        jobs.append(job)
    notes = []
    if bad:
        shown = ", ".join(str(n) for n in bad[:5]) + (" …" if len(bad) > 5 else "")
        notes.append(
            f"{len(bad)} entr{'y' if len(bad) == 1 else 'ies'} of the list of shots waiting to "
            f"be generated {'is' if len(bad) == 1 else 'are'} damaged and "
            f"{'was' if len(bad) == 1 else 'were'} ignored (entry {shown})."
        )
    return jobs, notes
