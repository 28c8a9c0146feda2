"""The ``sora-desktop`` command: open the app, generate a clip, evaluate the model, show info.

    sora-desktop                          open the desktop app
    sora-desktop generate "a red circle moves right on a blue background" -o clip.mp4
    sora-desktop eval --n 200 --out report.json
    sora-desktop info
    sora-desktop decode clip.latents.npz   (a clip whose decode failed; see cli_decode.py)
    sora-desktop batch shots.csv -o film.mp4   (a storyboard, headless; see cli_batch.py)

Exit codes: 0 done, 1 something failed (model missing, disk full), 2 invalid input (one line
``error: <message>``, no traceback), 130 cancelled with Ctrl-C (no half file is left).
"""

from __future__ import annotations

import argparse
import re
import secrets
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sora_desktop import __version__
from sora_desktop.core import logs
from sora_desktop.core.capabilities import EMBEDDED_FPS, EMBEDDED_SIZE, EMBEDDED_WINDOW
from sora_desktop.core.export_settings import (
    DEFAULT_UPSCALE_METHOD,
    EXPORT_FORMATS,
    MAX_UPSCALE,
    MIN_EXPORT_SIDE,
    QUALITIES,
    UPSCALE_METHODS,
    ExportSettings,
    default_upscale,
)
from sora_desktop.core.request import (
    EMBEDDED_MODEL_ID,
    MAX_SEED,
    GenerationRequest,
    frames_for_seconds,
)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130

from sora_desktop.cli_app import _open_app, _project_argument  # noqa: E402 - after the codes


class UsageError(Exception):
    """Invalid command-line input; reported as one line and exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sora-desktop",
        description="Sora Desktop: local, offline text-to-video. Without a command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"sora-desktop {__version__}")
    # For installer checks (installers/smoke_test.py): open the window, report it, close it.
    parser.add_argument("--smoke-test", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    gen = sub.add_parser("generate", help="generate a clip from a text prompt")
    gen.add_argument("prompt", help="what the clip shows")
    gen.add_argument(
        "-o",
        "--output",
        help="output file (.mp4 .webm .gif, or a folder/.png for PNG frames; a folder that "
        "already holds files gets a new subfolder, never touching them); default sora-<seed>.mp4",
    )
    gen.add_argument("--seed", type=int, help="random seed (default: random, printed)")
    gen.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    gen.add_argument("--guidance", type=float, help="classifier-free guidance (default: model's)")
    gen.add_argument(
        "--seconds",
        type=float,
        help="clip length in seconds (frames = seconds*fps, to the nearest count the model takes)",
    )
    gen.add_argument(
        "--frames",
        type=int,
        help=f"clip length in frames (default: the model's; built-in {EMBEDDED_WINDOW})",
    )
    gen.add_argument(
        "--fps", type=int, help=f"frames per second (default: the model's; built-in {EMBEDDED_FPS})"
    )
    gen.add_argument(
        "--size",
        help=f"WxH the model generates at (default: the model's; built-in "
        f"{EMBEDDED_SIZE}x{EMBEDDED_SIZE})",
    )
    gen.add_argument(
        "--force",
        action="store_true",
        help="run even when the memory check says the model will not fit this computer",
    )
    gen.add_argument("--negative", default="", help="what the clip should not show")
    gen.add_argument(
        "--prompt-at",
        nargs=2,
        action="append",
        metavar=("SECONDS", "TEXT"),
        help="a prompt that takes over at SECONDS into a long shot (repeat, times in order); "
        "each window of the shot uses the prompt in force at its start",
    )
    gen.add_argument(
        "--enhance", action="store_true", help="rewrite the prompt into a detailed caption first"
    )
    gen.add_argument("--enhancer", default="rule", help="which enhancer (default: rule)")
    gen.add_argument("--model", default=EMBEDDED_MODEL_ID, help="model id")
    gen.add_argument("--model-dir", help="folder of an embedded-model checkpoint")
    gen.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    gen.add_argument("--start-image", help="image the clip starts from")
    gen.add_argument(
        "--upscale",
        type=int,
        default=None,
        help=f"integer export upscale (1-{MAX_UPSCALE}; default: enough for "
        f"{MIN_EXPORT_SIDE} px on the short side)",
    )
    gen.add_argument(
        "--upscale-method", default=DEFAULT_UPSCALE_METHOD, choices=list(UPSCALE_METHODS)
    )
    gen.add_argument(
        "--sidecar",
        action="store_true",
        help="also write the settings beside the file as <file>.json (they are inside it anyway)",
    )
    gen.add_argument("--quality", default="high", choices=list(QUALITIES))
    gen.add_argument("--watermark", action="store_true", help="add a visible AI-generated label")
    gen.add_argument(
        "--format",
        choices=list(EXPORT_FORMATS),
        help="output format (default: from the output suffix)",
    )
    gen.add_argument(
        "--music",
        metavar="FILE",
        help="lay a WAV, MP3, FLAC or OGG file under the clip (cut to its length, faded in and "
        "out); MP4 and WebM keep sound, GIF and PNG frames do not",
    )
    gen.add_argument(
        "--normalize-loudness",
        action="store_true",
        help="even out the clip's loudness (ffmpeg loudnorm) when it has sound",
    )

    ev = sub.add_parser("eval", help="score the model on held-out captions")
    ev.add_argument("--n", type=int, default=200, help="number of clips (default 200)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--steps", type=int, help="denoising steps (default 25)")
    ev.add_argument("--guidance", type=float, help="classifier-free guidance (default 4.0)")
    ev.add_argument(
        "--out", default="eval_report.json", help="JSON report (a .md is written beside it)"
    )
    ev.add_argument("--model-dir", help="folder of an embedded-model checkpoint")
    ev.add_argument(
        "--enhance", action="store_true", help="rewrite each caption with the prompt enhancer first"
    )
    ev.add_argument("--enhancer", default="rule", help="which enhancer (default: rule)")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")

    sub.add_parser("info", help="version, device and model folder")
    from sora_desktop import cli_models

    cli_models.add_parser(sub)  # sora-desktop models list|download|delete|import
    from sora_desktop import cli_decode

    cli_decode.add_parser(sub)  # sora-desktop decode LATENTS [-o OUT]
    from sora_desktop import cli_batch

    cli_batch.add_parser(sub)  # sora-desktop batch SHOTS -o FILM (see cli_batch.py)
    from sora_desktop import cli_handoff

    cli_handoff.add_parsers(sub)  # sora-desktop export-timeline | provenance
    return parser


# ---------------------------------------------------------------------------------------------
#                                       generate
# ---------------------------------------------------------------------------------------------


def _parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m:
        raise UsageError(f"--size: {text!r} is not WxH, e.g. 64x64")
    return int(m.group(1)), int(m.group(2))


def _frames_from(args: argparse.Namespace, fps: int) -> int | None:
    if args.seconds is not None and args.frames is not None:
        try:
            would = f" at {fps} fps would be {frames_for_seconds(args.seconds, fps)} frames"
        except ValueError:  # no product to show (1e308 s overflows it)
            would = ""
        raise UsageError(
            f"give either --seconds or --frames, not both (--seconds {args.seconds:g}{would}, "
            f"--frames says {_shown_int(args.frames)})"
        )
    if args.seconds is not None:
        try:  # the request's own rule: no OverflowError for 1e308, no NaN, fps in range
            return frames_for_seconds(args.seconds, fps)
        except ValueError as exc:
            from sora_desktop.core.labels import for_cli

            raise UsageError(for_cli(exc)) from exc
    return args.frames


def _default(name: str) -> Any:
    return GenerationRequest.__dataclass_fields__[name].default


def _shown_int(value: int) -> str:
    return str(value) if abs(value) < 10**18 else "a number too large to use"


def _timed_prompt(seconds: str, text: str) -> dict[str, Any]:
    """One ``--prompt-at SECONDS TEXT``; the request checks the times and the text."""
    try:
        at = float(seconds)
    except ValueError:
        raise UsageError(
            f'--prompt-at: {seconds!r} is not a number of seconds (use --prompt-at 4.5 "text")'
        ) from None
    return {"at": at, "prompt": text}


def _checked_start_image(path: str) -> str:
    """Refuse a start image that is not a file, not an image, cut off or huge (from its header,
    before minutes of model loading); the image is decoded later by the backend."""
    from sora_desktop.core.image_header import read_image_file
    from sora_desktop.core.safe_paths import safe_resolve

    try:
        read_image_file(path, "--start-image")
        return str(safe_resolve(path, "--start-image"))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _check_path_args(args: argparse.Namespace) -> None:
    """A NUL or an unpaired surrogate in a path flag: one plain line, not a raw ValueError."""
    from sora_desktop.core.safe_paths import check_path_text

    for flag in ("output", "model_dir"):
        value = getattr(args, flag, None)
        if value is not None:
            check_path_text(value, "--" + flag.replace("_", "-"))


def build_request(args: argparse.Namespace) -> tuple[GenerationRequest, str | None]:
    """The request the flags describe (validated), and the enhanced prompt if any. What the
    flags leave out comes from the chosen model's defaults (``cli_generate.model_defaults``)."""
    from sora_desktop.cli_generate import model_defaults, snap_seconds

    fields: dict[str, Any] = {
        "prompt": args.prompt,
        "negative_prompt": args.negative,
        "model_id": args.model,
    }
    defaults, caps = model_defaults(args.model)
    fields.update(defaults)
    fps = args.fps if args.fps is not None else fields.get("fps", _default("fps"))
    if args.fps is not None:
        fields["fps"] = args.fps
    frames = _frames_from(args, fps)
    if frames is not None and args.seconds is not None:
        frames = snap_seconds(caps, args.seconds, fps, frames)
    if frames is not None:
        fields["num_frames"] = frames
    if args.steps is not None:
        fields["steps"] = args.steps
    if args.guidance is not None:
        fields["guidance"] = args.guidance
    if args.size is not None:
        fields["width"], fields["height"] = _parse_size(args.size)
    if args.start_image is not None:
        fields["start_image"] = _checked_start_image(args.start_image)
    if args.prompt_at:
        fields["timed_prompts"] = [_timed_prompt(at, text) for at, text in args.prompt_at]
    if args.seed is not None:
        if not 0 <= args.seed <= MAX_SEED:
            raise UsageError(f"--seed: {args.seed} is out of range; allowed 0 to {MAX_SEED}")
        fields["seed"] = args.seed
    else:
        fields["seed"] = secrets.randbelow(MAX_SEED + 1)
    request = GenerationRequest(**fields)  # validates the user's own words first
    request.validate()  # an empty prompt too (a request may hold one: a new shot's)
    enhanced = None
    if args.enhance:
        from sora_desktop.engine.enhance import get_enhancer

        enhanced = get_enhancer(args.enhancer).enhance(request.prompt)
        request = request.with_changes(prompt=enhanced, original_prompt=request.prompt)
    return request, enhanced


def _check_policy(request: GenerationRequest) -> None:
    from sora_desktop.core.settings import load_settings
    from sora_desktop.studio import PolicyBlocked, check_policy

    try:
        settings = load_settings()
    except Exception:  # an unreadable settings file must not switch the policy off
        settings = None
    try:
        check_policy(request, settings)
    except PolicyBlocked as exc:
        raise UsageError(str(exc) or "prompt: refused by the prompt policy") from None


@contextmanager
def _ctrl_c_cancels(cancel: Any) -> Iterator[None]:
    """First Ctrl-C asks the job to stop at the next step; a second one interrupts at once.
    SIGTERM stops at once, leaving no temp file and no ffmpeg behind."""

    def handler(signum: int, frame: Any) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()
        print("\ncancelling... (Ctrl-C again to stop at once)", file=sys.stderr)

    def on_term(signum: int, frame: Any) -> None:
        # SIGTERM (kill, logout, a service manager): unwind at once so the export's own
        # clean-up removes its temp file and ends ffmpeg; once only, the clean-up must finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        from sora_desktop.engine.export_files import abort_running_exports

        abort_running_exports()
        print("\nstopped (SIGTERM); no file was written", file=sys.stderr)
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGINT, handler)
        previous_term = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: Ctrl-C keeps its default meaning
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)


def _load_backend(model_id: str, device: str, model_dir: str | None) -> Any:
    from sora_desktop.engine.registry import load_backend

    # our own bar is the progress; hide the library's weight-loading bar (the built-in model
    # loads without transformers: importing it only for this would cost seconds)
    if model_id != EMBEDDED_MODEL_ID:
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except Exception:  # noqa: BLE001 - cosmetic only
            pass
    if model_dir is not None:
        if not Path(model_dir).is_dir():
            raise UsageError(f"--model-dir: {model_dir} is not a folder")
        if model_id != EMBEDDED_MODEL_ID:
            raise UsageError("--model-dir: only applies to the embedded model")
        from sora_desktop.engine.embedded.pipeline import EmbeddedBackend

        return EmbeddedBackend(model_dir=Path(model_dir), device=device)
    return load_backend(model_id, device)


def _warn_vocabulary(prompt: str, model_id: str) -> None:
    """Name the words the built-in model cannot draw (it still generates)."""
    from sora_desktop.studio.vocabulary import checks_model, cli_warning, unknown_words

    if checks_model(model_id):
        warning = cli_warning(unknown_words(prompt))
        if warning:
            print(warning, file=sys.stderr)


def cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sora_desktop.engine import registry
    from sora_desktop.engine.backend import CancelToken, GenerationCancelled
    from sora_desktop.engine.export import (
        SUFFIX_FORMATS,
        check_writable_folder,
        export_video,
        format_for_path,
        output_path_for,
        upscale_frames,
    )
    from sora_desktop.studio import decode as take_decode

    _check_path_args(args)
    if args.upscale is not None:  # the export's own range, before minutes of generating
        ExportSettings(upscale=args.upscale)
    request, enhanced = build_request(args)
    _check_policy(request)
    if args.output:
        output = Path(args.output)
        suffix_fmt = SUFFIX_FORMATS.get(output.suffix.lower())
        if args.format and suffix_fmt and suffix_fmt != args.format:
            raise UsageError(
                f"--format {args.format} does not match the output name {output.name!r}; "
                f"use a .{args.format} name or leave --format out"
            )
    else:
        output = Path(f"sora-{request.seed}.{args.format or 'mp4'}")
    fmt = format_for_path(output, args.format)
    import numpy as np

    upscale_frames(
        np.zeros((1, 1, 1, 3), np.uint8),
        1 if args.upscale is None else args.upscale,
        args.upscale_method,
    )
    target = output_path_for(output, fmt)
    check_writable_folder(target.parent)  # fail before minutes of generation, not after
    from sora_desktop.cli_generate import check_music, clip_sound
    from sora_desktop.engine.export.audio_mix import remove_mix

    music = check_music(args.music)  # a bad file fails now, not after the generation

    _warn_vocabulary(args.prompt, request.model_id)
    from sora_desktop.cli_handoff import sign_and_report, warn_unsigned

    warn_unsigned(fmt)  # e.g. WebM: no proof of origin; said before minutes of generation
    if enhanced is not None:
        print(f"enhanced prompt: {enhanced}", file=sys.stderr)
    print(f"seed: {request.seed}", file=sys.stderr)
    from sora_desktop.engine.device import pick_device

    pick_device(args.device)  # a clear error for an unknown or missing device
    if args.model_dir is None:  # what the model accepts, before minutes of loading it
        from sora_desktop.cli_generate import check_fit
        from sora_desktop.core.capabilities import capabilities_for

        capabilities_for(request.model_id).check(request)
        check_fit(request, force=args.force)  # the same memory check as the app; --force
    backend = _load_backend(request.model_id, args.device, args.model_dir)
    backend.check_request(request)

    cancel = CancelToken()
    bar = None
    # saved before the decode; kept when it fails, so `sora-desktop decode` can finish the clip
    latents = take_decode.latents_path(target)

    def on_step(event: Any) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(
                total=event.total * event.segments,
                file=sys.stderr,
                unit="step",
                dynamic_ncols=True,
                leave=False,
            )
        if event.segments > 1:
            bar.set_description(f"segment {event.segment + 1}/{event.segments}")
        bar.update(1)

    with _ctrl_c_cancels(cancel):
        try:
            # registry.generate: a shot longer than the model's window is made in windows
            events = registry.generate(request, cancel, backend=backend)
            result = take_decode.run_generation(events, latents, request, on_step=on_step)
            if bar is not None:
                bar.close()
                bar = None
            print(f"exporting {fmt.upper()}...", file=sys.stderr)
            mix, sound_record = clip_sound(result, music, fmt, args.normalize_loudness, cancel)
            try:
                path = export_video(
                    result.frames,
                    output,
                    result.fps,
                    fmt=fmt,
                    request=request,
                    upscale=args.upscale
                    if args.upscale is not None
                    else default_upscale(result.frames.shape[2], result.frames.shape[1]),
                    upscale_method=args.upscale_method,
                    sidecar=args.sidecar,
                    quality=args.quality,
                    watermark=args.watermark,
                    cancel=cancel,
                    audio=mix,
                    audio_record=sound_record,
                )
            finally:
                remove_mix(mix)
        except take_decode.DecodeKept as exc:
            print(f"\nerror: {take_decode.cli_message(exc, args.output)}", file=sys.stderr)
            return EXIT_FAILED
        except (GenerationCancelled, KeyboardInterrupt):
            take_decode.discard_latents(latents)
            print("\ncancelled; no file was written", file=sys.stderr)
            return EXIT_CANCELLED
        except Exception:
            if latents.is_file():  # e.g. the export failed: the denoising is not lost
                print(f"\nthe denoising is kept: sora-desktop decode {latents}", file=sys.stderr)
            raise
        finally:
            if bar is not None:  # leave the terminal clean whatever happened
                bar.close()
    take_decode.discard_latents(latents)  # the clip exists
    sign_and_report(path, request, warned=True)  # proof of origin (a failure only warns)
    print(f"saved: {path}")
    print(f"seed: {request.seed}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # No process-wide HF_HUB_OFFLINE: downloads follow Settings → Models (offline switch); the
    # embedded model loads with local_files_only and never uses the network either way.
    parser = build_parser()
    try:
        project = _project_argument(parser, argv)
        if project is not None:
            return _open_app(smoke_test="--smoke-test" in argv, project=project)
        args = parser.parse_args(argv)
        if args.command is None:
            return _open_app(smoke_test=args.smoke_test)
        logs.configure("cli")  # the log file only; stderr stays the user's output
        if args.command == "generate":
            return cmd_generate(args)
        if args.command == "eval":
            from sora_desktop.cli_info import cmd_eval

            return cmd_eval(args)
        if args.command == "models":
            from sora_desktop import cli_models

            return cli_models.run(args)
        if args.command == "decode":
            from sora_desktop import cli_decode

            return cli_decode.run(args)
        if args.command == "batch":
            from sora_desktop import cli_batch

            return cli_batch.run(args)
        if args.command in ("export-timeline", "provenance"):
            from sora_desktop import cli_handoff

            if args.command == "provenance":
                return cli_handoff.run_provenance(args)
            return cli_handoff.run_export_timeline(args)
        from sora_desktop.cli_info import cmd_info

        return cmd_info()
    except (UsageError, ValueError) as exc:
        print(f"error: {_error_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as exc:  # noqa: BLE001 - a clear line, not a traceback, for the user
        from sora_desktop.engine.export import ExportError

        if isinstance(exc, (ExportError, FileNotFoundError, RuntimeError, OSError)):
            print(f"error: {_error_line(exc)}", file=sys.stderr)
            return EXIT_FAILED
        raise


def _error_line(exc: BaseException) -> str:
    """Plain words: the option and the label for a bad value, no error numbers or code words."""
    from sora_desktop.studio.messages import command_line_error

    return command_line_error(exc)


if __name__ == "__main__":
    sys.exit(main())
