"""Reading sound files with the bundled ffmpeg (imageio-ffmpeg), treating each file as hostile.

- ffmpeg opens only local files (``-protocol_whitelist file``, a ``file:`` URL, so a name like
  ``http:x`` or ``concat:a|b`` is just a name) and only the formats Sora Desktop imports
  (``-format_whitelist``: a playlist or video container is refused before it can open anything).
- A file's header may lie about its length (a small file can decode to hours: a decompression
  bomb), so the length is counted from the decoded samples, streamed in chunks (bounded memory)
  and stopped past ``MAX_AUDIO_SECONDS``; every run has a deadline after which ffmpeg is killed.
- Callers check the path first (``core/safe_paths``): ffmpeg is never handed a FIFO or device.

Every failure is an ``AudioError`` (a ``FieldError`` on the field ``"audio"``) whose message is
one plain sentence naming the file.
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sora_desktop.core.errors import FieldError
from sora_desktop.core.project.audio import (
    IMPORT_FORMATS,
    IMPORT_LABEL,
    MAX_AUDIO_SECONDS,
    MIX_CHANNELS,
    MIX_SAMPLE_RATE,
)
from sora_desktop.engine.export import ffmpeg

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 30.0
# decoding speed is far above real time; a file that takes longer than this is refused
SCAN_TIMEOUT_S = 300.0
SCAN_RATE = 8_000  # the length count and the waveform read a mono 8 kHz copy
PEAKS_PER_SECOND = 50
_CHUNK = 1 << 16


class AudioError(FieldError):
    """A sound file that cannot be used; ``message`` is the user's sentence."""

    def __init__(self, message: str) -> None:
        super().__init__("audio", message)


@dataclass(frozen=True)
class AudioInfo:
    """What ``ffmpeg -i`` says about a sound file (its header; the length is checked later)."""

    format: str  # one of IMPORT_FORMATS
    codec: str
    sample_rate: int
    channels: str  # "mono", "stereo", "5.1", "3 channels"...
    header_seconds: float | None  # None when the header does not say


@dataclass(frozen=True)
class AudioScan:
    """A sound file decoded once: its true length and a waveform to draw."""

    seconds: float
    peaks: np.ndarray  # (n,) float32 0..1: the loudest sample per 1/PEAKS_PER_SECOND second


def _input_args(path: Path) -> list[str]:
    return [
        "-nostdin",
        "-hide_banner",
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        ",".join(IMPORT_FORMATS),
    ]


def _url(path: Path) -> str:
    return "file:" + str(Path(path).absolute())


def probe_audio(path: str | Path) -> AudioInfo:
    """The file's format and first sound stream, from ``ffmpeg -i`` (nothing is decoded)."""
    p = Path(path)
    cmd = [ffmpeg._ffmpeg_exe(), *_input_args(p), "-i", _url(p)]
    try:
        run = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise AudioError(f"{p.name} could not be read in time; it is probably damaged") from exc
    except OSError as exc:
        raise AudioError(f"the sound decoder (ffmpeg) could not start: {exc}") from exc
    text = run.stderr.decode("utf-8", "replace")
    m = re.search(r"^Input #0, ([\w,]+), from", text, re.M)
    if m is None:
        raise AudioError(f"{p.name} is not a sound file Sora Desktop can read ({IMPORT_LABEL})")
    fmt = m.group(1).split(",")[0]
    stream = re.search(r"Stream #0:\d+(?:\[\w+\])?(?:\(\w+\))?: Audio: ([^\n]*)", text)
    if stream is None:
        raise AudioError(f"{p.name} has no sound in it")
    parts = [x.strip() for x in stream.group(1).split(",")]
    codec = parts[0].split(" ")[0]
    rate = next((int(x.split()[0]) for x in parts if re.fullmatch(r"\d+ Hz", x)), 0)
    if rate <= 0:
        raise AudioError(f"{p.name} has no readable sound (no sample rate)")
    channels = parts[2] if len(parts) > 2 else "?"
    dur = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", text)
    seconds = None
    if dur is not None:
        h, mi, s = dur.groups()
        seconds = int(h) * 3600 + int(mi) * 60 + float(s)
        if seconds > MAX_AUDIO_SECONDS:
            raise AudioError(
                f"{p.name} lasts {_hms(seconds)}; the limit is {_hms(MAX_AUDIO_SECONDS)}"
            )
    return AudioInfo(fmt, codec, rate, channels, seconds)


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class _Watchdog:
    """Kills ``proc`` when the deadline passes (a read blocked on ffmpeg then ends)."""

    def __init__(self, proc: subprocess.Popen, seconds: float) -> None:
        self.fired = False
        self._proc = proc
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        if self._proc.poll() is None:
            self._proc.kill()

    def cancel(self) -> None:
        self._timer.cancel()


def _decoder(path: Path, out_args: list[str], seek: float = 0.0, seconds: float = 0.0):
    cmd = [ffmpeg._ffmpeg_exe(), *_input_args(path), "-loglevel", "error"]
    if seek > 0:
        cmd += ["-ss", f"{seek:.6f}"]
    if seconds > 0:
        cmd += ["-t", f"{seconds:.6f}"]
    cmd += ["-i", _url(path), "-map", "0:a:0", "-vn", "-sn", "-dn", *out_args, "-f", "f32le", "-"]
    # the log goes to a file: a damaged file's thousand warnings must not fill a pipe and stall
    log_file = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file
        )
    except OSError as exc:
        log_file.close()
        raise AudioError(f"the sound decoder (ffmpeg) could not start: {exc}") from exc
    proc.log_file = log_file  # type: ignore[attr-defined]
    return proc


def _log_tail(proc: subprocess.Popen) -> str:
    log_file = getattr(proc, "log_file", None)
    if log_file is None:
        return ""
    try:
        log_file.seek(0, 2)
        size = log_file.tell()
        log_file.seek(max(0, size - 4096))
        return log_file.read().decode("utf-8", "replace")
    finally:
        log_file.close()


def _stop(proc: subprocess.Popen, dog: _Watchdog) -> None:
    """Stop ffmpeg early (an error, a limit, or enough samples read) and close its log."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    dog.cancel()
    _log_tail(proc)


def _finish(proc: subprocess.Popen, name: str, dog: _Watchdog, timeout_s: float) -> None:
    """Wait for ffmpeg and turn its failure into a sentence."""
    try:
        code = proc.wait(timeout=10)
    finally:
        dog.cancel()
    err = _log_tail(proc)
    if dog.fired:
        raise AudioError(f"{name} took longer than {timeout_s:.0f} s to decode; it was stopped")
    if code != 0:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        why = lines[-1].strip() if lines else f"ffmpeg exited with code {code}"
        raise AudioError(f"{name} could not be decoded ({why[:200]})")


def scan_audio(path: str | Path, timeout_s: float = SCAN_TIMEOUT_S) -> AudioScan:
    """Decode the whole file once (mono, 8 kHz, streamed): its true length and its waveform.
    Refused past ``MAX_AUDIO_SECONDS`` or ``timeout_s``, whatever the header claimed."""
    p = Path(path)
    per_peak = SCAN_RATE // PEAKS_PER_SECOND
    limit = int(MAX_AUDIO_SECONDS * SCAN_RATE)
    # rematrix_maxval 1: a stereo file is mixed to mono at its own level, not +3 dB (waveform)
    proc = _decoder(p, ["-ac", "1", "-rematrix_maxval", "1.0", "-ar", str(SCAN_RATE)])
    dog = _Watchdog(proc, timeout_s)
    peaks: list[np.ndarray] = []
    carry = np.zeros(0, np.float32)
    count = 0
    leftover = b""
    try:
        assert proc.stdout is not None
        while True:
            chunk = proc.stdout.read(_CHUNK * 4)
            if not chunk:
                break
            chunk = leftover + chunk
            usable = len(chunk) - len(chunk) % 4
            leftover = chunk[usable:]
            samples = np.frombuffer(chunk[:usable], "<f4")
            count += len(samples)
            if count > limit:
                proc.kill()
                raise AudioError(f"{p.name} lasts longer than {_hms(MAX_AUDIO_SECONDS)}, the limit")
            carry = np.concatenate([carry, np.abs(np.nan_to_num(samples))])
            whole = len(carry) - len(carry) % per_peak
            if whole:
                peaks.append(carry[:whole].reshape(-1, per_peak).max(axis=1))
                carry = carry[whole:]
    except BaseException:
        _stop(proc, dog)
        raise
    _finish(proc, p.name, dog, timeout_s)
    if len(carry):
        peaks.append(carry.max(keepdims=True))
    if count == 0:
        raise AudioError(f"{p.name} holds no sound (it decodes to nothing)")
    wave = np.concatenate(peaks) if peaks else np.zeros(0, np.float32)
    return AudioScan(count / SCAN_RATE, np.clip(wave, 0.0, 1.0).astype(np.float32))


def decode_pcm(
    path: str | Path, trim_in: float, seconds: float, timeout_s: float = SCAN_TIMEOUT_S
) -> np.ndarray:
    """``seconds`` of the file from ``trim_in`` as (samples, MIX_CHANNELS) float32 at
    ``MIX_SAMPLE_RATE`` (mono plays at full level on both sides). Shorter when the file ends first;
    never longer (the read stops at the expected size, whatever the file holds)."""
    p = Path(path)
    want = int(round(seconds * MIX_SAMPLE_RATE))
    if want <= 0:
        return np.zeros((0, MIX_CHANNELS), np.float32)
    frame_bytes = 4 * MIX_CHANNELS
    if probe_audio(p).channels in ("mono", "1 channels"):
        # a mono file plays at full level on both sides (ffmpeg's own upmix lowers it 3 dB)
        layout = ["-af", "pan=stereo|c0=c0|c1=c0"]
    else:
        layout = ["-ac", str(MIX_CHANNELS)]
    # ask ffmpeg for a little more than needed: its -t rounds to its own frames
    proc = _decoder(
        p,
        [*layout, "-ar", str(MIX_SAMPLE_RATE)],
        seek=trim_in,
        seconds=seconds + 0.05,
    )
    dog = _Watchdog(proc, timeout_s)
    buf = bytearray()
    try:
        assert proc.stdout is not None
        while len(buf) < want * frame_bytes:
            chunk = proc.stdout.read(min(_CHUNK * frame_bytes, want * frame_bytes - len(buf)))
            if not chunk:
                break
            buf += chunk
        if len(buf) >= want * frame_bytes and proc.poll() is None:
            _stop(proc, dog)  # what is left is not needed
        else:
            _finish(proc, p.name, dog, timeout_s)
    except BaseException:
        _stop(proc, dog)
        raise
    usable = len(buf) - len(buf) % frame_bytes
    pcm = np.frombuffer(bytes(buf[:usable]), "<f4").reshape(-1, MIX_CHANNELS)[:want]
    return np.nan_to_num(pcm.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
