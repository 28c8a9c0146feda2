"""``sora-desktop batch SHOTS -o FILM``: render a storyboard from a CSV or JSON file, headless.

    sora-desktop batch shots.csv -o film.mp4                 project: film.sdproj beside it
    sora-desktop batch shots.json -o out/film.webm --project story.sdproj --crossfade 4
    sora-desktop batch shots.csv -o film.mp4 --ray local      on a local Ray cluster (farm extra)

Every row is checked before anything runs (``studio.batch_file`` / ``studio.batch``); the
project is saved after every finished take and opens in the app; Ctrl-C (or SIGTERM) cancels
the running take, saves the project and exits 130 (143 for SIGTERM); the same command again
keeps the shots already made and makes the rest, then writes the film. This module only reads
the flags and prints: progress (a bar on a terminal, one line per event otherwise) on stderr,
the files written on stdout.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from sora_desktop.core.export_settings import EXPORT_FORMATS, MAX_CROSSFADE_FRAMES, QUALITIES
from sora_desktop.core.request import EMBEDDED_MODEL_ID

EXIT_FAILED = 1
EXIT_USAGE = 2
FARM_MISSING = "the render farm needs the farm extra: pip install 'sora-desktop[farm]'"
AGAIN = "Run the same command again to continue."


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "batch",
        help="render a storyboard from a CSV or JSON file of shots into a project and a film",
        description="Render every shot of SHOTS (a CSV with a header row, or a JSON list of "
        "objects; columns prompt, seconds, continue, seed, negative, model) into a project "
        "and the film. Run the same command again to continue after a stop.",
    )
    p.add_argument("shots", metavar="SHOTS", help="the shots: a .csv or .json file")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILM",
        help="the film (.mp4 .webm .gif, or a folder/.png for PNG frames)",
    )
    p.add_argument(
        "--project",
        help="the project file to make or continue (default: FILM's name with .sdproj)",
    )
    p.add_argument(
        "--ray",
        metavar="local|ADDRESS",
        help="render on a Ray cluster ('local' starts one here); needs the farm extra",
    )
    p.add_argument("--workers", type=int, help="with --ray: how many shots run at once")
    p.add_argument(
        "--music",
        metavar="FILE",
        help="lay this WAV, MP3, FLAC or OGG under the film, cut and faded to its length",
    )
    p.add_argument(
        "--model",
        default=EMBEDDED_MODEL_ID,
        help="model for rows that name none (default: the built-in model)",
    )
    p.add_argument("--steps", type=int, help="denoising steps for every shot (default: model's)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance (default: model's)")
    p.add_argument("--device", help="auto, cpu, cuda or mps (default: the app's setting)")
    p.add_argument(
        "--force",
        action="store_true",
        help="run even when the memory check says a model will not fit this computer",
    )
    p.add_argument(
        "--format", choices=list(EXPORT_FORMATS), help="film format (default: FILM's suffix)"
    )
    p.add_argument(
        "--crossfade",
        type=int,
        metavar="FRAMES",
        help=f"cross-fade between shots, 0-{MAX_CROSSFADE_FRAMES} film frames (remembered by "
        "the project; default: the project's, 0 for a new one)",
    )
    p.add_argument("--upscale", type=int, help="integer upscale of the film (remembered)")
    p.add_argument("--quality", default="high", choices=list(QUALITIES))
    p.add_argument(
        "--watermark",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="visible AI-generated label (default: the app's setting)",
    )


# ---------------------------------------------------------------------------- progress
class Progress:
    """The batch's progress on ``stream``: a tqdm bar per shot on a terminal (shot N of M, its
    phase and step), else one plain line per event (logs, CI, a pipe)."""

    def __init__(self, total: int, stream: IO[str] | None = None, tty: bool | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(tty) if tty is not None else _isatty(self.stream)
        self._bar: Any = None
        self._last_step: dict[int, int] = {}

    def line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def __call__(self, number: int, event: Any) -> None:
        from sora_desktop.studio.take_runner import (
            TakeCancelled,
            TakeFailed,
            TakeFinished,
            TakePhase,
            TakeProgress,
            TakeStarted,
        )

        label = f"shot {number} of {self.total}"
        if isinstance(event, TakeStarted):
            where = f" on {event.host}" if event.host else ""
            if self.tty:
                self._open(label + where)
            else:
                self.line(f"{label}: started{where}")
        elif isinstance(event, TakePhase):
            if self.tty and self._bar is not None:
                self._bar.set_postfix_str(event.phase)
            elif not self.tty:
                self.line(f"{label}: {event.phase}")
        elif isinstance(event, TakeProgress):
            if self.tty and self._bar is not None:
                if self._bar.total != event.total:
                    self._bar.reset(total=event.total)
                self._bar.update(max(0, event.step - self._bar.n))
            elif not self.tty and self._last_step.get(number) != event.step:
                self._last_step[number] = event.step
                self.line(f"{label}: step {event.step}/{event.total}")
        elif isinstance(event, TakeFinished):
            self._close()
            self.line(f"{label}: done")
        elif isinstance(event, TakeFailed):
            self._close()
            self.line(f"{label}: failed: {' '.join(event.message.split())}")
        elif isinstance(event, TakeCancelled):
            self._close()
            self.line(f"{label}: cancelled")

    def film(self, fraction: float) -> None:
        if self.tty:
            if self._bar is None:
                self._open("film", total=100)
            self._bar.update(max(0, int(fraction * 100) - self._bar.n))
        elif fraction in (0.0, 1.0) or self._last_step.get(0) != int(fraction * 10):
            self._last_step[0] = int(fraction * 10)
            self.line(f"film: {fraction:.0%}")

    def _open(self, desc: str, total: int | None = None) -> None:
        from tqdm import tqdm

        self._close()
        self._bar = tqdm(
            total=total,
            desc=desc,
            file=self.stream,
            unit="step",
            dynamic_ncols=True,
            leave=False,
            mininterval=0,  # a step is never faster than a redraw; show each one
        )

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    close = _close


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------------------- signals
@contextmanager
def _signals_stop(stop: Any) -> Iterator[list[int]]:
    """Ctrl-C or SIGTERM: stop after cancelling the running take (cooperatively) and saving;
    a second Ctrl-C stops waiting for it. Yields the signals received. The handler only sets
    flags: the batch's loop says what happens (printing here could interrupt a print)."""
    received: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        if stop.requested and signum == signal.SIGINT:
            stop.stop_now()
        stop.stop()

    try:
        previous = signal.signal(signal.SIGINT, handler)
        previous_term = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield received
        return
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)


# ---------------------------------------------------------------------------- the command
def run(args: argparse.Namespace) -> int:
    from sora_desktop.cli import UsageError
    from sora_desktop.core.safe_paths import check_path_text
    from sora_desktop.studio.batch_file import BadShots, read_shots

    for flag, value in (
        ("SHOTS", args.shots),
        ("--output", args.output),
        ("--project", args.project),
    ):
        if value is not None:
            check_path_text(value, flag)
    film = Path(args.output)
    fmt = _film_format(film, args.format, UsageError)
    project_path = _project_path(args.project, film, UsageError)
    options = _options(args, UsageError)
    export_changes = {"format": fmt, **_export_changes(args, UsageError)}  # remembered
    make_farm = _farm_factory(args, UsageError)
    from sora_desktop.cli_generate import check_music

    music = check_music(args.music)  # a bad file is a usage error now, not after the shots
    settings = _settings(args.device)
    from sora_desktop.cli_handoff import warn_unsigned

    warn_unsigned(fmt)  # e.g. a WebM film: no proof of origin; said before the shots
    if make_farm is None and args.device:
        from sora_desktop.engine.device import pick_device

        pick_device(args.device)  # a clear error for an unknown or missing device

    try:
        rows = read_shots(args.shots)
        from sora_desktop.studio.batch import plan_shots

        planned, notes = plan_shots(
            Path(args.shots).name, rows, options, _model_info(settings), settings
        )
    except BadShots as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for note in notes:
        print(note, file=sys.stderr)
    return _render(
        args, film, fmt, project_path, planned, settings, export_changes, make_farm, music
    )


def _render(
    args: argparse.Namespace,
    film: Path,
    fmt: str,
    project_path: Path,
    planned: list[Any],
    settings: Any,
    export_changes: dict[str, Any],
    make_farm: Any,
    music: tuple[str, float] | None = None,
) -> int:
    from sora_desktop.core import project_lock
    from sora_desktop.core.project import ProjectError
    from sora_desktop.engine.backend import GenerationCancelled
    from sora_desktop.engine.export import check_writable_folder, output_path_for
    from sora_desktop.studio.batch import (
        BatchRun,
        StopRequest,
        prepare_project,
        shots_with_clips,
        write_film,
    )
    from sora_desktop.studio.runners import LocalRunner

    check_writable_folder(output_path_for(film, fmt).parent)  # before minutes of generating
    check_writable_folder(project_path.parent)
    plan = prepare_project(planned, project_path, export_changes)
    project = plan.project
    for warning in project.warnings:  # e.g. takes an earlier run left unfinished (killed)
        print(f"note: {warning}", file=sys.stderr)
    if project_lock.hold(project) is not None:
        raise ProjectError(
            f"{project.read_only.split(' It was opened')[0]} Close it there first, or give "
            "--project another file."
        )
    total = len(planned)
    progress = Progress(total)
    try:
        said = f"{Path(args.shots).name}: {total} shot{'s' if total != 1 else ''}"
        if plan.kept:
            said += f"; {len(plan.kept)} already made (kept), {len(plan.make)} to make"
        print(said, file=sys.stderr)

        def make_runner(emit: Any) -> Any:
            if make_farm is not None:
                return make_farm(args.ray, emit, args.workers)
            _quiet_loading_bars()  # our bar is the progress
            return LocalRunner(emit)

        stop = StopRequest()

        def stopping() -> None:
            progress.line(
                "stopping: cancelling the running shot and saving the project "
                "(Ctrl-C again to stop at once)"
            )

        batch = BatchRun(plan, make_runner, settings, progress, stopping)
        with _signals_stop(stop) as received:
            try:
                outcome = batch.run(stop)
            except ProjectError as exc:  # e.g. the disk filled up: saving failed (not input)
                print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
                return EXIT_FAILED
            finally:
                progress.close()
            code = 128 + (received[0] if received else signal.SIGINT)
            made = shots_with_clips(project)
            if outcome.stopped:
                print(f"Stopped after {made} of {total} shots. {AGAIN}", file=sys.stderr)
                print(f"project: {project.path}")
                return code
            if outcome.failed or outcome.skipped or made < total:
                for number, message in sorted(outcome.failed.items()):
                    print(
                        f"error: shot {number} failed: {' '.join(message.split())}", file=sys.stderr
                    )
                for number, note in sorted(outcome.skipped.items()):
                    print(f"shot {number}: {note}", file=sys.stderr)
                print(
                    f"error: the film was not written: {made} of {total} shots have a clip. "
                    "Run the same command again to retry the others.",
                    file=sys.stderr,
                )
                print(f"project: {project.path}")
                return EXIT_FAILED
            if music is not None:
                _lay_music(project, music[0])
            try:
                path = write_film(
                    project,
                    film,
                    fmt,
                    quality=args.quality,
                    watermark=_watermark(args.watermark, settings),
                    progress=progress.film,
                    cancel=stop,
                    note=lambda text: print(f"note: {text}", file=sys.stderr),
                    provenance=_provenance(settings),  # the film signed (C2PA), as Settings say
                )
            except GenerationCancelled:
                progress.close()
                print(
                    f"Stopped before the film was written; all {total} shots are made. "
                    "Run the same command again to write it.",
                    file=sys.stderr,
                )
                print(f"project: {project.path}")
                return code
            finally:
                progress.close()
    finally:
        project_lock.let_go(project)
    print(f"project: {project.path}")
    print(f"saved: {path}")
    return 0


# ---------------------------------------------------------------------------- the flags
def _lay_music(project: Any, path: str) -> None:
    """``--music``: the file under the whole film, cut and faded to its length, saved with the
    project. A re-run replaces the item an earlier run laid (same file name and length) instead
    of stacking a second copy."""
    from sora_desktop.core.project import save_project
    from sora_desktop.studio.soundtrack import check_sound_file, lay_music

    _info, scan = check_sound_file(path)
    name = Path(path).name
    for item in list(project.audio):
        same = item.name == name and abs(item.source_seconds - scan.seconds) < 1e-3
        if same and item.kind == "music" and item.start == 0.0:
            project.remove_audio(item.id)
    lay_music(project, path)
    save_project(project)


def _film_format(film: Path, fmt: str | None, usage: type[Exception]) -> str:
    from sora_desktop.core.export_settings import SUFFIX_FORMATS
    from sora_desktop.engine.export import format_for_path

    suffix_fmt = SUFFIX_FORMATS.get(film.suffix.lower())
    if fmt and suffix_fmt and suffix_fmt != fmt:
        raise usage(
            f"--format {fmt} does not match the film's name {film.name!r}; use a .{fmt} name "
            "or leave --format out"
        )
    try:
        return format_for_path(film, fmt)
    except ValueError as exc:
        raise usage(f"--output: {exc}") from exc


def _project_path(project: str | None, film: Path, usage: type[Exception]) -> Path:
    from sora_desktop.core.project import PROJECT_SUFFIX

    if project is None:
        return (film.parent / f"{film.stem or 'film'}{PROJECT_SUFFIX}").absolute()
    path = Path(project).expanduser()
    if path.suffix.lower() != PROJECT_SUFFIX:
        raise usage(f"--project: {path.name!r} is not a project file; use a {PROJECT_SUFFIX} name")
    if path.is_dir():
        raise usage(f"--project: {path} is a folder; name a {PROJECT_SUFFIX} file")
    return path.absolute()


def _options(args: argparse.Namespace, usage: type[Exception]) -> Any:
    from sora_desktop.core.errors import FieldError
    from sora_desktop.core.labels import for_cli
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.studio.batch import BatchOptions

    checks = {"steps": args.steps, "guidance": args.guidance}
    for name, value in checks.items():
        if value is not None:
            try:  # the request's own ranges
                GenerationRequest("check", **{name: value})
            except FieldError as exc:
                raise usage(for_cli(exc)) from exc
    if args.workers is not None and (args.ray is None or args.workers < 1):
        raise usage("--workers: give a number of at least 1, with --ray")
    return BatchOptions(args.model, args.steps, args.guidance, args.force)


def _export_changes(args: argparse.Namespace, usage: type[Exception]) -> dict[str, Any]:
    from sora_desktop.core.errors import FieldError
    from sora_desktop.core.export_settings import ExportSettings

    changes: dict[str, Any] = {}
    if args.crossfade is not None:
        changes["crossfade_frames"] = args.crossfade
    if args.upscale is not None:
        changes["upscale"] = args.upscale
    try:
        ExportSettings(**changes)
    except FieldError as exc:
        from sora_desktop.core.labels import for_cli

        raise usage(for_cli(exc)) from exc
    return changes


def _farm_factory(args: argparse.Namespace, usage: type[Exception]) -> Any:
    """``make_farm_runner`` for ``--ray``; the farm extra's message when ray or the farm
    module is missing (exit 2)."""
    if args.ray is None:
        return None
    if not args.ray.strip():
        raise usage("--ray: give 'local' or the cluster's address (host:port)")
    import importlib.util

    try:
        if importlib.util.find_spec("ray") is None:
            raise ImportError("ray")
        from sora_desktop.studio.farm import make_farm_runner
    except ImportError:
        raise usage(FARM_MISSING) from None
    return make_farm_runner


def _provenance(settings: Any) -> Any:
    from sora_desktop.studio.provenance import options_from_settings

    return options_from_settings(settings)


def _settings(device: str | None) -> Any:
    from sora_desktop.core.settings import Settings, load_settings

    try:
        settings = load_settings()
    except Exception:  # noqa: BLE001 - an unreadable settings file: the defaults
        settings = Settings()
    return replace(settings, device=device) if device else settings


def _quiet_loading_bars() -> None:
    try:  # the libraries' weight-loading bars would break our progress lines
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass


def _watermark(flag: bool | None, settings: Any) -> bool:
    return bool(getattr(settings, "watermark", True)) if flag is None else flag


def _model_info(settings: Any) -> Callable[[str], Any]:
    """A model's defaults and rules (``cli_generate.model_defaults``), and a plain message for
    a model of the catalog that this computer has not downloaded."""

    def info(model_id: str) -> Any:
        from sora_desktop.cli_generate import model_defaults
        from sora_desktop.core.catalog import find_entry, is_installed

        defaults, caps = model_defaults(model_id)
        entry = find_entry(model_id)
        if entry is not None and entry.needs_download:
            if not is_installed(entry, settings.models_dir):
                raise ValueError(
                    f"{model_id} is not downloaded on this computer; get it first: "
                    f"sora-desktop models download {model_id}"
                )
        return defaults, caps

    return info
