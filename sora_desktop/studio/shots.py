"""The rules a shot passes before it is queued: the prompt policy, the memory pre-flight,
continuation from the previous shot and ending on the next shot's first frame. Each raises an
exception whose message is for the user."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_desktop.core import project as core_project
from sora_desktop.core.project import Project
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.preflight import MemoryInfo, preflight_request  # no torch at import
from sora_desktop.studio.media import first_frame_path, last_frame_path
from sora_desktop.studio.takes import take_clip


class PolicyBlocked(Exception):
    """The prompt policy refused a request; the message is for the user."""


class QueueError(Exception):
    """A shot cannot be queued as it is; the message says what to do."""


def policy_enabled(settings: Any) -> bool:
    """The policy is on unless the settings say off (no settings: on)."""
    return settings is None or bool(getattr(settings, "policy_enabled", True))


def check_policy(request: GenerationRequest, settings: Any = None) -> None:
    """``PolicyBlocked`` when the prompt policy (if on) refuses the request."""
    if not policy_enabled(settings):
        return
    from sora_desktop.core.policy import check_request  # lazy: reads the policy file

    result = check_request(request)
    if not result.allowed:
        raise PolicyBlocked(result.message)


def check_fits(
    request: GenerationRequest, settings: Any = None, memory: MemoryInfo | None = None
) -> None:
    """``QueueError`` for a job that cannot fit this machine's memory, before it starts (and
    fails). ``memory`` None probes the machine."""
    report = preflight_request(request, settings, memory)
    if report is not None and not report.ok:
        raise QueueError(f"{report.message}\n{report.suggestion}".strip())


@dataclass(frozen=True)
class Continuation:
    """Where a continuing shot starts: the previous shot's last frame."""

    start_image: Path
    previous_shot: str
    # A finished clip whose last-frame file is missing: the worker makes it before the take
    # (decoding a clip never happens on the GUI thread).
    source_clip: Path | None = None


def continuation(
    project: Project, shot_id: str, pending_take: Callable[[str], str | None]
) -> Continuation | None:
    """The frame a shot continues from, or ``None`` when it does not continue.

    ``pending_take(shot_id)`` is the take the queue is making for that shot (queued or
    running), if any: a shot continues from its previous shot's newest queued take, else from
    its picked finished take (``Project.continuation_take``). ``QueueError`` when there is
    nothing to continue from.
    """
    shot = project.shot(shot_id)
    if not shot.continue_from_previous:
        return None
    number = project.index_of(shot_id) + 1
    previous = project.previous_shot(shot_id)
    if previous is None:
        raise QueueError(
            f"Shot {number} is the first shot, so there is no previous shot to continue "
            "from. Turn off 'Continue from previous shot'."
        )
    pending = pending_take(previous.id)
    if pending is not None:  # the previous shot is in the queue: chain to its new take
        rel = core_project.clip_relpath(project, previous.id, pending)
        clip = core_project.resolve_media(project, rel)
        return Continuation(last_frame_path(clip), previous.id)
    clip = take_clip(project, project.continuation_take(shot_id))
    if clip is None:
        raise QueueError(
            f"Shot {number} continues from shot {number - 1}, which has no finished take "
            "yet. Generate that shot first, or turn off 'Continue from previous shot'."
        )
    last = last_frame_path(clip)
    return Continuation(last, previous.id, None if last.is_file() else clip)


@dataclass(frozen=True)
class EndKeyframe:
    """Where a shot ends: the next shot's first frame (``GenerationRequest.end_image``)."""

    end_image: Path
    next_shot: str
    # The next shot's clip when its first-frame file is missing: the worker makes it (as for
    # ``Continuation.source_clip``, decoding stays off the GUI thread).
    source_clip: Path | None = None


END_ON_NEXT_LABEL = "End on the next shot's first frame"


def end_on_next_blocker(project: Project, shot_id: str) -> str | None:
    """Why the shot cannot end on the next shot's first frame now (None: it can). The words
    the storyboard shows beside the disabled option, and the queue's refusal."""
    from sora_desktop.core.capabilities import capabilities_for  # lazy: reads the catalog

    shot = project.shot(shot_id)
    number = project.index_of(shot_id) + 1
    caps = capabilities_for(shot.request.model_id)
    if not caps.supports_end_image:
        return f"{caps.name or shot.request.model_id} cannot end a clip on a chosen frame."
    following = project.next_shot(shot_id)
    if following is None:
        return f"Shot {number} is the last shot: there is no next shot to end on."
    if take_clip(project, following.selected) is None:
        return f"Shot {number + 1} has no finished clip yet: generate it first."
    return None


def end_keyframe(project: Project, shot_id: str) -> EndKeyframe | None:
    """The frame a shot ends on, or ``None`` when it does not use the option. ``QueueError``
    (with the reason) when the option is on but cannot be honoured."""
    shot = project.shot(shot_id)
    if not shot.end_on_next_shot:
        return None
    why = end_on_next_blocker(project, shot_id)
    if why is not None:
        raise QueueError(f"{why}\nOr turn off '{END_ON_NEXT_LABEL}'.")
    following = project.next_shot(shot_id)
    clip = take_clip(project, following.selected)  # type: ignore[union-attr]
    first = first_frame_path(clip)  # type: ignore[arg-type]
    return EndKeyframe(first, following.id, None if first.is_file() else clip)  # type: ignore[union-attr]


def take_request(
    project: Project,
    shot_id: str,
    seed: int | None,
    start: Continuation | None,
    end: EndKeyframe | None = None,
    base: GenerationRequest | None = None,
) -> GenerationRequest:
    """The request a new take of the shot runs: the shot's settings (or ``base``: a take's
    own request, run again), a new seed for a variation, the start image continuity chose and
    the end keyframe (stale images a request carries are dropped)."""
    request = base if base is not None else project.shot(shot_id).request
    if seed is not None:
        request = request.with_changes(seed=seed)
    if end is not None:
        request = request.with_changes(end_image=str(end.end_image))
    elif request.end_image is not None and not Path(request.end_image).is_file():
        request = request.with_changes(end_image=None)
    if start is not None:
        return request.with_changes(start_image=str(start.start_image))
    if request.start_image is not None and not Path(request.start_image).is_file():
        return request.with_changes(start_image=None)
    return request
