"""A queue that survives: the jobs a project was still making when the app closed or crashed,
offered again when it is opened (issue 18; Wan2GP users lost an 83-entry queue).

How it fits together:
- ``ShotQueue.record_queue`` (studio/queue.py) keeps ``Project.queue`` (the ordered list of
  unfinished jobs, core/project/queue_record.py) in step with the queue: each job added, each
  job that ends. Every save and every recovery copy writes it.
- Opening a project marks the takes that were queued or running as interrupted
  (``core.project.mark_interrupted_takes``); ``pending_jobs`` lists the saved entries still
  worth running, in order, dropping those whose shot or take is gone or whose take ended.
- ``resume_pending`` queues them again in the saved order. A take or variation re-uses its take
  record (``ShotQueue.requeue_take``): the same id, so the storyboard shows one take that
  finishes rather than a failed "interrupted" take beside a new one, and its own request, seed
  included, so the result is the one that was asked for. Continuation is worked out again as
  it is queued, so a chain of continuing shots chains through the re-queued takes. A take whose
  denoising finished before the app closed (its latents were saved) is only decoded again
  ("Retry in low memory"), as is a waiting "decode" job.
- ``decline`` ("Not now") forgets the list: the takes stay marked interrupted ("Generate again
  to retry") and are not offered again once the project is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sora_desktop.core.project import INTERRUPTED_MESSAGE, Project, Take
from sora_desktop.core.project.queue_record import QueuedJob
from sora_desktop.studio.shots import PolicyBlocked, QueueError

if TYPE_CHECKING:  # queue.py imports this module
    from sora_desktop.studio.queue import ShotQueue

_UNFINISHED = ("queued", "generating")


def is_unfinished(take: Take, kind: str = "take") -> bool:
    """The take was waiting or running: still so in memory, or marked interrupted on opening;
    for a "decode" job, its take still waits for its decode (latents kept)."""
    if kind == "decode":
        return take.status in ("decode_failed", "generating") and bool(take.latents)
    if take.status in _UNFINISHED:
        return True
    return take.status in ("failed", "decode_failed") and take.error == INTERRUPTED_MESSAGE


def pending_jobs(project: Project) -> list[QueuedJob]:
    """The saved queue's entries still to run, in order: entries whose shot or take is gone,
    whose take ended meanwhile, or that repeat a take are dropped."""
    found: list[QueuedJob] = []
    seen: set[str] = set()
    for entry in project.queue:
        try:
            take = project.shot(entry.shot_id).take(entry.take_id)
        except KeyError:
            continue
        if entry.take_id in seen or not is_unfinished(take, entry.kind):
            continue
        seen.add(entry.take_id)
        found.append(entry)
    return found


def record_queue(project: Project, active: list[QueuedJob], known: set[str]) -> None:
    """Set the project's saved queue: entries not answered yet (loaded from the file and
    neither resumed nor declined) stay first, then the queue's own unfinished jobs in order.
    ``known``: the takes of every job the queue holds (an ended one is no longer saved)."""
    kept = [entry for entry in pending_jobs(project) if entry.take_id not in known]
    project.queue = kept + list(active)


def offer_text(entries: list[QueuedJob]) -> str:
    """The one line the app shows when a project opens with unfinished jobs."""
    takes, shots = len(entries), len({e.shot_id for e in entries})
    if takes == shots:
        what = f"{shots} shot{'s were' if shots != 1 else ' was'}"
    else:
        what = f"{takes} takes of {shots} shot{'s' if shots != 1 else ''} were"
    return f"{what} still waiting to be generated when Sora Desktop closed."


@dataclass
class Resumed:
    """What ``resume_pending`` queued, and one line for each entry it could not."""

    jobs: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def resume_pending(shot_queue: ShotQueue) -> Resumed:
    """Queue the open project's unfinished jobs again, in their saved order."""
    project = shot_queue.project
    entries = pending_jobs(project)
    result = Resumed()
    for entry in entries:
        shot = project.shot(entry.shot_id)
        take = shot.take(entry.take_id)
        number = project.index_of(shot.id) + 1
        try:
            job = None
            if entry.kind == "decode" or (take.status == "decode_failed" and take.latents):
                try:
                    job = shot_queue.retry_decode(shot.id, take.id)
                except QueueError:
                    if entry.kind == "decode":
                        raise
                    # its latents are gone: the take is made again from the start instead
            if job is None:
                job = shot_queue.requeue_take(shot.id, take.id, entry.kind == "variation")
        except (PolicyBlocked, QueueError, ValueError) as exc:
            result.problems.append(f"Shot {number}: {str(exc).splitlines()[0]}")
            continue
        result.jobs.append(job)
    # the entries that could not be queued again stay interrupted, and are not offered again
    project.queue = []
    shot_queue.record_queue()
    return result


def decline(project: Project) -> int:
    """The "Not now" answer: forget the saved queue (its takes stay marked interrupted).
    Returns how many entries were forgotten."""
    count = len(pending_jobs(project))
    project.queue = []
    return count
