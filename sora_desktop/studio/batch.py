"""Headless batch rendering (``sora-desktop batch``): the rows of a SHOTS file become a
project's shots, the shots are made through the studio queue (``ShotQueue``, continuation and
all) by any ``EventRunner`` (this process, or a render farm), and the picked clips become the
film, with the project's export settings (cross-fades...) as the app's Export does it.

The three steps, each usable alone:

1. ``plan_shots``: every row checked and turned into a request before anything runs (the
   model's defaults and rules, the request's validation, the prompt policy, the memory check),
   every problem named by row and column (``BadShots``).
2. ``prepare_project``: the project file is made, or an existing one is matched row by row
   (row N is shot N). What a re-run keeps is decided here:
   - a shot whose picked take is finished, made with the row's settings (the fields that make
     a clip, ``studio.takes.CLIP_FIELDS``, and the row's seed when it gives one), and whose
     clip file is there, is kept: it is not made again;
   - a continuing shot is kept only if the shot before it is kept and its take started from
     that shot's picked clip (otherwise its first frame would no longer match);
   - a row that changed updates its shot's settings, and the shot gets a new take; its older
     takes stay in its history, as in the app;
   - rows added at the end become new shots; a project with more shots than the file has
     rows is refused (the batch never deletes shots).
3. ``BatchRun.run``: the shots to make are queued, the runner's events are handed to the
   queue on this thread (``take_runner.apply_event``) and the project is saved after every
   finished take. A stop request cancels the running take cooperatively; takes of this run
   that never finished are taken out of the project again (they hold nothing), and it is
   saved. ``write_film`` then renders the film.

Qt-free, and torch-free at import (the runner and the film render import the engine).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sora_desktop.core import project as core_project
from sora_desktop.core.capabilities import ModelCapabilities
from sora_desktop.core.errors import FieldError
from sora_desktop.core.project import Project, ProjectError, Shot
from sora_desktop.core.request import MAX_SEED, GenerationRequest, frames_for_seconds
from sora_desktop.studio.batch_file import MAX_LISTED, BadShots, ShotRow, problem
from sora_desktop.studio.fit_advice import fit_advice
from sora_desktop.studio.media import last_frame_path
from sora_desktop.studio.model_rules import continue_block_reason, valid_frames_near
from sora_desktop.studio.queue import ShotQueue
from sora_desktop.studio.shots import PolicyBlocked, QueueError, check_policy
from sora_desktop.studio.take_runner import TakeEvent, apply_event, is_terminal
from sora_desktop.studio.takes import CLIP_FIELDS, is_current, take_clip

log = logging.getLogger(__name__)

# a request field -> the SHOTS column its value comes from (for a problem's column)
COLUMN_OF = {
    "prompt": "prompt",
    "negative_prompt": "negative",
    "seed": "seed",
    "num_frames": "seconds",
    "model_id": "model",
    "start_image": "continue",
    "width/height": "model",
    "width": "model",
    "height": "model",
    "fps": "model",
}
FINISHED = ("done", "failed", "decode_failed")  # a take of this run that ended with something

ModelInfo = Callable[[str], tuple[dict[str, Any], ModelCapabilities]]
Emit = Callable[[TakeEvent], None]


# ---------------------------------------------------------------------------- 1. plan
@dataclass(frozen=True)
class BatchOptions:
    """What the command line sets for every row."""

    default_model: str
    steps: int | None = None
    guidance: float | None = None
    force: bool = False  # run past the memory check


@dataclass(frozen=True)
class PlannedShot:
    number: int  # the shot's number in the storyboard (1 = the first row)
    where: str  # the row as the user counts it ("line 3", "item 2")
    request: GenerationRequest
    seed_given: bool  # the row names a seed (else a new shot gets a random one)
    continues: bool


def plan_shots(
    name: str,
    rows: list[ShotRow],
    options: BatchOptions,
    model_info: ModelInfo,
    settings: Any = None,
    memory: Any = None,
) -> tuple[list[PlannedShot], list[str]]:
    """(the shots, notes for the user), or ``BadShots`` listing every bad row and column.

    ``model_info(model_id)`` gives a model's request defaults and its capabilities, raising
    ``ValueError`` for a model this computer cannot run (the CLI's ``model_defaults``).
    """
    problems: list[str] = []
    notes: list[str] = []
    planned: list[PlannedShot] = []
    models: dict[str, tuple[dict[str, Any], ModelCapabilities] | str] = {}
    for number, row in enumerate(rows, 1):

        def bad(column: str | None, message: str, row: ShotRow = row) -> None:
            problems.append(problem(name, row.where, column, message))

        if row.problems:
            problems.extend(row.problems)
            continue
        model = row.model or options.default_model
        if model not in models:
            try:
                models[model] = model_info(model)
            except ValueError as exc:
                models[model] = _message(exc)
        info = models[model]
        if isinstance(info, str):
            bad("model", info)
            continue
        defaults, caps = info
        request = _row_request(row, model, defaults, caps, options, bad, notes, name)
        if request is None:
            continue
        if row.continues and number == 1:
            bad("continue", "the first shot has no previous shot to continue from; leave it empty")
        elif row.continues and continue_block_reason(caps):
            bad("continue", continue_block_reason(caps))
        # the model's rules; a continuing shot will start from the previous shot's last frame
        checked = (
            request.with_changes(start_image="previous-shot.png") if row.continues else request
        )
        try:
            caps.check(checked)
        except FieldError as exc:
            if not (exc.field == "start_image" and row.continues):  # said just above
                bad(COLUMN_OF.get(exc.field, exc.field), exc.message)
            continue
        try:
            check_policy(request, settings)
        except PolicyBlocked as exc:
            bad("prompt", str(exc) or "refused by the prompt policy")
            continue
        if not options.force:
            if memory is None and _needs_download(model):  # probed once for the whole file
                from sora_desktop.engine.preflight import probe_memory

                memory = probe_memory()
            advice = fit_advice(request, settings, memory)
            if advice is not None:
                bad("model", f"{advice.message} (add --force to run it anyway)")
                continue
        planned.append(PlannedShot(number, row.where, request, row.seed is not None, row.continues))
    if problems:
        shown = problems[:MAX_LISTED]
        if len(problems) > MAX_LISTED:
            shown.append(f"... and {len(problems) - MAX_LISTED} more")
        raise BadShots(name, shown)
    return planned, notes


def _needs_download(model_id: str) -> bool:
    from sora_desktop.core.catalog import find_entry

    try:
        entry = find_entry(model_id)
    except ValueError:
        return False
    return entry is not None and entry.needs_download


def _row_request(
    row: ShotRow,
    model: str,
    defaults: dict[str, Any],
    caps: ModelCapabilities,
    options: BatchOptions,
    bad: Callable[[str | None, str], None],
    notes: list[str],
    name: str,
) -> GenerationRequest | None:
    fields: dict[str, Any] = dict(defaults)
    fields.update(prompt=row.prompt, negative_prompt=row.negative, model_id=model)
    if options.steps is not None:
        fields["steps"] = options.steps
    if options.guidance is not None:
        fields["guidance"] = options.guidance
    fps = fields.get("fps", caps.default_fps)
    if row.seconds is not None:
        if row.seconds * fps >= caps.max_frames + 0.5:  # the model's limit, in seconds
            bad(
                "seconds",
                f"{row.seconds:g} s is too long for {caps.name or model}, which makes at most "
                f"{caps.max_frames} frames at {fps} fps: allowed {1 / fps:g} to "
                f"{caps.max_frames / fps:.2f} s",
            )
            return None
        try:
            frames = frames_for_seconds(row.seconds, fps)
        except FieldError as exc:
            bad("seconds", exc.message)
            return None
        options_near = valid_frames_near(frames, caps)
        if options_near != [frames] and options_near:
            snapped = min(options_near, key=lambda n: (abs(n - frames), -n))
            notes.append(
                f"note: {name} {row.where}: {row.seconds:g} s at {fps} fps is {frames} frames; "
                f"{caps.name or model} needs {caps.frame_rule} frames, so {snapped} frames "
                f"({snapped / fps:.2f} s) are made"
            )
            frames = snapped
        fields["num_frames"] = frames
    fields["seed"] = row.seed if row.seed is not None else 0
    try:
        return GenerationRequest(**fields)
    except FieldError as exc:
        bad(COLUMN_OF.get(exc.field, exc.field), exc.message)
    except (TypeError, ValueError) as exc:
        bad(None, _message(exc))
    return None


def _message(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ---------------------------------------------------------------------------- 2. the project
@dataclass
class BatchPlan:
    project: Project
    make: list[str]  # ids of the shots to make, in storyboard order
    kept: list[int] = field(default_factory=list)  # shot numbers kept from an earlier run
    changed: list[int] = field(default_factory=list)  # rows whose shot's settings changed
    added: int = 0  # new shots
    created: bool = False  # the project file is new


def same_settings(a: GenerationRequest, b: GenerationRequest) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in CLIP_FIELDS) and a.seed == b.seed


def prepare_project(
    shots: list[PlannedShot], path: Path, export_changes: dict[str, Any] | None = None
) -> BatchPlan:
    """Open (or make) the project at ``path`` and match it to the rows (see the module's
    docstring). Nothing is written; ``ProjectError`` with the user's message."""
    created = not path.exists()
    if created:
        project = core_project.new_project(path.stem or "Batch")
        project.path = path.absolute()
    else:
        project = core_project.load_project(path)
    if len(project.shots) > len(shots):
        raise ProjectError(
            f"{path.name} has {len(project.shots)} shots but the shots file has {len(shots)} "
            "rows; the batch never deletes shots: give --project a new file, or delete the "
            "extra shots in the app"
        )
    plan = BatchPlan(project, [], created=created)
    previous_kept = False
    for planned in shots:
        index = planned.number - 1
        if index < len(project.shots):
            shot = project.shots[index]
            seed = planned.request.seed if planned.seed_given else shot.request.seed
            request = planned.request.with_changes(seed=seed)
            if not same_settings(shot.request, request):
                project.set_shot_request(shot.id, request)
                plan.changed.append(planned.number)
            if shot.continue_from_previous != planned.continues:
                project.set_continue_from_previous(shot.id, planned.continues)
                plan.changed.append(planned.number)
        else:
            seed = planned.request.seed if planned.seed_given else random.randint(0, MAX_SEED)
            shot = project.add_shot(planned.request.with_changes(seed=seed))
            if planned.continues:
                project.set_continue_from_previous(shot.id, True)
            plan.added += 1
        keep = _keeps(project, shot, planned, previous_kept)
        if keep:
            plan.kept.append(planned.number)
        else:
            plan.make.append(shot.id)
        previous_kept = keep
    if export_changes:
        settings = project.export_settings.with_changes(**export_changes)
        if settings.project_settings() != project.export_settings.project_settings():
            project.set_export_settings(settings)
    return plan


def _keeps(project: Project, shot: Shot, planned: PlannedShot, previous_kept: bool) -> bool:
    """The shot's picked clip can stay (see the module's docstring)."""
    take = shot.selected
    if not is_current(shot) or take is None or take_clip(project, take) is None:
        return False
    if planned.seed_given and take.request.seed != planned.request.seed:
        return False
    if not planned.continues:
        return True
    if not previous_kept or take.request.start_image is None:
        return False
    previous = project.previous_shot(shot.id)
    clip = take_clip(project, previous.selected if previous is not None else None)
    return clip is not None and Path(take.request.start_image).name == last_frame_path(clip).name


# ---------------------------------------------------------------------------- 3. running
class StopRequest:
    """Set from a signal handler: ``stop()`` cancels the running take cooperatively and
    queues nothing more; ``stop_now()`` also stops waiting for it."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._now = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def stop_now(self) -> None:
        self._stop.set()
        self._now.set()

    @property
    def requested(self) -> bool:
        return self._stop.is_set()

    @property
    def now(self) -> bool:
        return self._now.is_set()

    @property
    def cancelled(self) -> bool:  # a CancelToken's interface, for the film render
        return self.requested

    def raise_if_cancelled(self) -> None:
        if self.requested:
            from sora_desktop.engine.backend import GenerationCancelled

            raise GenerationCancelled()

    def cancel(self) -> None:
        self.stop()


@dataclass
class RunOutcome:
    done: list[int] = field(default_factory=list)  # shot numbers made in this run
    failed: dict[int, str] = field(default_factory=dict)  # shot number -> the message
    skipped: dict[int, str] = field(default_factory=dict)  # never started (a chain broke)
    stopped: bool = False


class BatchRun:
    """Runs a ``BatchPlan``'s shots on one runner; the caller's thread owns the project."""

    POLL_S = 0.1

    def __init__(
        self,
        plan: BatchPlan,
        make_runner: Callable[[Emit], Any],
        settings: Any = None,
        report: Callable[[int, TakeEvent], None] | None = None,
        on_stopping: Callable[[], None] | None = None,
    ) -> None:
        self.plan = plan
        self.project = plan.project
        self.settings = settings
        self._make_runner = make_runner
        self._report = report or (lambda number, event: None)
        # said once when a stop request is seen (a signal handler must not print itself: a
        # print interrupted by another print on the same stream raises "reentrant call")
        self._on_stopping = on_stopping or (lambda: None)

    def save(self) -> None:
        core_project.save_project(self.project)

    def run(self, stop: StopRequest) -> RunOutcome:
        outcome = RunOutcome()
        if not self.plan.make:
            return outcome
        events: queue.Queue[TakeEvent] = queue.Queue()
        runner = self._make_runner(events.put)
        shot_queue = ShotQueue(lambda: self.project, runner, self.settings)
        number_of: dict[str, int] = {}
        take_of: dict[str, tuple[str, str]] = {}
        try:
            for shot_id in self.plan.make:
                if stop.requested:
                    break
                # the rows were checked (policy, memory) before anything ran
                job = shot_queue.generate_shot(shot_id, force=True)
                number_of[job.id] = self.project.index_of(shot_id) + 1
                take_of[job.id] = (shot_id, job.take_id)
            self.save()
            pending = set(number_of)
            cancelling = False
            while pending:
                if stop.requested and not cancelling:
                    cancelling = True
                    outcome.stopped = True
                    self._on_stopping()
                    shot_queue.cancel_all()
                if stop.now:
                    break
                try:
                    event = events.get(timeout=self.POLL_S)
                except queue.Empty:
                    continue
                apply_event(shot_queue, event)
                number = number_of.get(event.job_id)
                if number is None:
                    continue
                self._report(number, event)
                if is_terminal(event):
                    pending.discard(event.job_id)
                    self.save()  # every finished take is on disk at once
        except (QueueError, PolicyBlocked) as exc:  # checked before; a race with the catalog
            shot_queue.cancel_all()
            raise ProjectError(str(exc)) from exc
        finally:
            outcome.stopped = outcome.stopped or stop.requested
            if not stop.now:
                runner.close()
            self._settle(shot_queue, take_of, outcome)
            self.save()
        return outcome

    def _settle(
        self, shot_queue: ShotQueue, take_of: dict[str, tuple[str, str]], outcome: RunOutcome
    ) -> None:
        """What each take of this run came to; takes that never finished leave the project
        (they hold no clip: a cancelled or skipped take, or one still running at a stop)."""
        for job_id, (shot_id, take_id) in take_of.items():
            number = self.project.index_of(shot_id) + 1
            try:
                take = self.project.shot(shot_id).take(take_id)
            except KeyError:
                continue
            if take.status == "done":
                outcome.done.append(number)
            elif take.status in FINISHED:
                outcome.failed[number] = take.error or "the take failed"
            else:
                note = shot_queue.notes.get(job_id)
                if note and not outcome.stopped:
                    outcome.skipped[number] = note
                self.project.remove_take(shot_id, take_id)


def shots_with_clips(project: Project) -> int:
    return sum(1 for shot in project.shots if take_clip(project, shot.selected) is not None)


# ---------------------------------------------------------------------------- 4. the film
def write_film(
    project: Project,
    path: Path,
    fmt: str,
    *,
    quality: str = "high",
    watermark: bool = False,
    progress: Callable[[float], None] | None = None,
    cancel: Any = None,
    note: Callable[[str], None] | None = None,
    provenance: Any = None,
) -> Path:
    """Every shot's picked clip, in order, as the app's Export makes the film: the project's
    export settings (cross-fade, frame rate, fit, upscale, loudness), its sound track and the
    shots' own sound, and the storyboard's settings in the file's metadata. ``note`` hears
    that a GIF or PNG film leaves the sound out, and that a film could not be signed.
    ``provenance``: ``ProvenanceOptions`` to sign the film (proof of origin, C2PA)."""
    from sora_desktop.studio.film import film_clips, film_plan, film_request, render_film
    from sora_desktop.studio.film_sound import dropped_message, film_sound

    settings = project.export_settings
    clips = film_clips(project)
    plan = film_plan(project, None, settings)
    if not clips or plan is None:
        raise ProjectError("there is no finished clip to put in the film")
    sound = film_sound(project, None, settings)  # FieldError: a sound file gone missing
    dropped = dropped_message(sound, fmt)
    if dropped and note is not None:
        note(dropped)
    return render_film(
        clips,
        path,
        plan.fps,
        fmt=fmt,
        fit=settings.fit,
        crossfade_frames=settings.crossfade_frames if len(clips) > 1 else 0,
        upscale=plan.upscale,  # "Auto" resolved for this film (at least 512 px)
        upscale_method=settings.upscale_method,
        quality=quality,
        watermark=watermark,
        request=film_request(project),
        progress=progress,
        cancel=cancel,
        sound=sound,
        provenance=provenance,
        on_warning=note,
    )
