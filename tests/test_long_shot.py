"""Long shots (issue 17) with a fake backend whose frames say where they come from: windows,
joins, start frames, end image, timed prompts, seeds, cancel, and colour drift at the joins.

The tiny real LTX model and the installed CLI are in tests/test_long_shot_models.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from sora_desktop.core.capabilities import ModelCapabilities
from sora_desktop.core.request import GenerationRequest, TimedPrompt
from sora_desktop.engine import registry
from sora_desktop.engine.backend import (
    Backend,
    CancelToken,
    GenerationCancelled,
    GenerationResult,
    LatentsReady,
    StepEvent,
)
from sora_desktop.engine.colour_match import colour_stats, lab_to_rgb, rgb_to_lab
from sora_desktop.engine.decode import read_image
from sora_desktop.engine.long_shot import generate_long_shot, plan_windows

SIZE = 32
WINDOW = 9  # an 8k+1 window, as LTX's


class CounterBackend(Backend):
    """Frame j of a window is grey level ``c + j``, where ``c`` is the grey level of its start
    image (0 without one): a clip stitched right counts 0, 1, 2, ... with no repeats."""

    model_id = "fake/counter"

    def __init__(self, chains_windows: bool = False) -> None:
        self.requests: list[GenerationRequest] = []
        self.starts: list[np.ndarray | None] = []
        self.steps_run = 0
        self.chains_windows = chains_windows

    def capabilities(self) -> ModelCapabilities:
        return ModelCapabilities(
            sizes=((SIZE, SIZE),),
            max_frames=65,
            supports_start_image=True,
            supports_end_image=True,
            model_id=self.model_id,
            frame_multiple=8,
            window=WINDOW,
        )

    def generate(self, request, cancel=None):
        self.check_request(request)
        assert request.num_frames <= WINDOW or self.chains_windows
        cancel = cancel or CancelToken()
        self.requests.append(request)
        start = None
        if request.start_image is not None:
            start = read_image(request.start_image, "start_image")  # as a real backend reads it
        self.starts.append(start)
        for s in range(request.steps):
            cancel.raise_if_cancelled()
            self.steps_run += 1
            yield StepEvent(s + 1, request.steps)
        yield LatentsReady({"video": np.full((2, 2), request.seed, np.float32)}, {"seed": 1})
        yield GenerationResult(self.frames(request, start), request.fps, request, {"fake": 1})

    def frames(self, request, start) -> np.ndarray:
        c = 0 if start is None else int(start[0, 0, 0])
        levels = (c + np.arange(request.num_frames)) % 256
        return np.broadcast_to(levels[:, None, None, None], (len(levels), SIZE, SIZE, 3)).astype(
            np.uint8
        )


class DriftingBackend(CounterBackend):
    """A textured scene that pans slowly; every window comes back brighter and warmer than the
    frame it started from (what re-encoding through a VAE does), so without matching each join
    jumps and the shot drifts further with every window."""

    model_id = "fake/drift"
    DRIFT_L, DRIFT_A, DRIFT_B = 9.0, 5.0, -6.0  # CIELAB units per window

    def frames(self, request, start) -> np.ndarray:
        if start is None:
            rng = np.random.default_rng(request.seed)
            base = rng.integers(60, 190, (SIZE, SIZE, 3)).astype(np.float64)
            base = (base + np.roll(base, 1, 0) + np.roll(base, 1, 1)) / 3  # some texture
            start = base.astype(np.uint8)
        lab = rgb_to_lab(start) + (self.DRIFT_L, self.DRIFT_A, self.DRIFT_B)
        drifted = lab_to_rgb(lab).astype(np.int16)
        rng = np.random.default_rng(request.seed)  # the model's own frame-to-frame noise
        frames = [
            np.roll(drifted, j, axis=1) + rng.integers(-4, 5, drifted.shape)
            for j in range(request.num_frames)
        ]
        return np.clip(frames, 0, 255).astype(np.uint8)


def _request(**kw) -> GenerationRequest:
    base = dict(
        prompt="a red fox runs",
        steps=3,
        num_frames=25,
        fps=8,
        width=SIZE,
        height=SIZE,
        model_id="fake/counter",
        seed=11,
    )
    base.update(kw)
    return GenerationRequest(**base)


def _run(backend, request, cancel=None):
    events = list(registry.generate(request, cancel, backend=backend))
    assert isinstance(events[-1], GenerationResult)
    return events[:-1], events[-1]


# ---------------------------------------------------------------------------- windows
def test_three_windows_join_without_duplicates_each_starting_from_the_last_frame(tmp_path):
    fake = CounterBackend()
    request = _request(end_image=str(tmp_path / "end.png"))
    events, result = _run(fake, request)
    assert len(fake.requests) == 3
    assert [r.num_frames for r in fake.requests] == [9, 9, 9]
    # exact length, every frame once, in order: the shared frames were dropped once each
    assert result.frames.shape == (25, SIZE, SIZE, 3)
    assert result.frames[:, 0, 0, 0].tolist() == list(range(25))
    # window 2 and 3 started from the previous window's last frame (clip frames 8 and 16)
    assert fake.starts[0] is None
    assert np.array_equal(fake.starts[1], result.frames[8])
    assert np.array_equal(fake.starts[2], result.frames[16])
    # the end keyframe only for the last window (Wan2GP #913)
    assert [r.end_image for r in fake.requests] == [None, None, request.end_image]
    assert result.request == request and result.fps == 8
    # the temporary start images are gone
    assert not any(__import__("os").path.exists(r.start_image) for r in fake.requests[1:])


def test_steps_count_every_window_and_latents_are_labelled():
    fake = CounterBackend()
    events, _ = _run(fake, _request())
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [(e.segment, e.step) for e in steps] == [(w, s) for w in range(3) for s in (1, 2, 3)]
    assert {e.segments for e in steps} == {3}
    latents = [e for e in events if isinstance(e, LatentsReady)]
    assert [(e.segment, e.segments) for e in latents] == [(0, 3), (1, 3), (2, 3)]
    assert [list(e.latents) for e in latents] == [["w0.video"], ["w1.video"], ["w2.video"]]
    assert latents[1].info["w1"] == {"seed": 1}


def test_the_last_window_takes_what_is_left_on_the_frame_rule():
    plan = plan_windows(_request(num_frames=33), WINDOW)
    assert [(w.start, w.frames) for w in plan] == [(0, 9), (8, 9), (16, 9), (24, 9)]
    plan = plan_windows(_request(num_frames=41), 17)  # 17 + 16 + 8 new frames
    assert [(w.start, w.frames) for w in plan] == [(0, 17), (16, 17), (32, 9)]
    assert all((w.frames - 1) % 8 == 0 for w in plan) and plan[-1].last


def test_a_clip_within_one_window_is_one_plain_pass():
    fake = CounterBackend()
    events, result = _run(fake, _request(num_frames=9))
    assert len(fake.requests) == 1 and fake.requests[0] == _request(num_frames=9)
    assert "long_shot" not in result.info


def test_timed_prompts_reach_the_windows_that_start_after_them():
    fake = CounterBackend()
    timed = (TimedPrompt(1.0, "a blue car drives"), TimedPrompt(1.5, "a boat on the sea"))
    # windows start at frames 0, 8 (1.0 s), 16 (2.0 s), 24 (3.0 s)
    _, result = _run(fake, _request(num_frames=33, timed_prompts=timed))
    assert [r.prompt for r in fake.requests] == [
        "a red fox runs",
        "a blue car drives",
        "a boat on the sea",  # 1.5 s falls inside window 2: it takes over from window 3 on
        "a boat on the sea",
    ]
    assert all(r.timed_prompts == () for r in fake.requests)
    windows = result.info["long_shot"]["windows"]
    assert [w["prompt"] for w in windows] == [r.prompt for r in fake.requests]


def test_seeds_are_derived_per_window_and_the_same_seed_gives_the_same_clip():
    a, b, c = DriftingBackend(), DriftingBackend(), DriftingBackend()
    _, first = _run(a, _request(model_id="fake/drift"))
    _, again = _run(b, _request(model_id="fake/drift"))
    _, other = _run(c, _request(model_id="fake/drift", seed=12))
    assert np.array_equal(first.frames, again.frames)
    assert not np.array_equal(first.frames, other.frames)
    seeds = [r.seed for r in a.requests]
    assert seeds[0] == 11 and len(set(seeds)) == 3
    assert seeds == [r.seed for r in b.requests]


def test_cancel_in_window_two_stops_within_a_step(tmp_path):
    fake = CounterBackend()
    cancel = CancelToken()
    seen = []
    with pytest.raises(GenerationCancelled):
        for event in registry.generate(_request(), cancel, backend=fake):
            if isinstance(event, StepEvent):
                seen.append((event.segment, event.step))
                if event.segment == 1 and event.step == 1:
                    cancel.cancel()
    assert seen[-1] == (1, 1)  # no step after the cancel was pressed
    assert fake.steps_run == 3 + 1 and len(fake.requests) == 2  # window 3 never started


def test_cancel_between_windows_starts_no_new_window():
    fake = CounterBackend()
    cancel = CancelToken()
    with pytest.raises(GenerationCancelled):
        for event in registry.generate(_request(), cancel, backend=fake):
            if isinstance(event, LatentsReady) and event.segment == 0:
                cancel.cancel()
    assert len(fake.requests) == 1


def test_a_backend_that_chains_itself_keeps_its_own_chaining_unless_prompts_change():
    fake = CounterBackend(chains_windows=True)
    _run(fake, _request())
    assert [r.num_frames for r in fake.requests] == [25]  # one call: it chains internally
    timed = _request(timed_prompts=(TimedPrompt(1.0, "a blue car drives"),))
    fake = CounterBackend(chains_windows=True)
    _run(fake, timed)
    assert [r.prompt for r in fake.requests] == [
        "a red fox runs",
        "a blue car drives",
        "a blue car drives",
    ]


def test_a_model_that_cannot_start_from_an_image_is_refused_before_any_step():
    class NoImage(CounterBackend):
        def capabilities(self):
            caps = super().capabilities()
            return ModelCapabilities(**{**caps.__dict__, "supports_start_image": False})

    fake = NoImage()
    with pytest.raises(ValueError, match="cannot continue from an image"):
        list(generate_long_shot(fake, _request()))
    assert fake.steps_run == 0


# ---------------------------------------------------------------------------- colour drift
def _join_jumps(frames: np.ndarray, joins: list[int]) -> tuple[float, float]:
    """Mean CIELAB colour jump (distance between consecutive frames' mean colours) at the
    joins, and inside the windows."""
    means = np.array([colour_stats(f).mean for f in frames])
    jumps = np.linalg.norm(np.diff(means, axis=0), axis=1)  # jumps[i]: frame i -> i + 1
    at_joins = [jumps[j - 1] for j in joins]  # frame j is the first new frame of a window
    inside = [v for i, v in enumerate(jumps) if i + 1 not in joins]
    return float(np.mean(at_joins)), float(np.mean(inside))


def test_colour_drift_between_windows_is_removed():
    request = _request(model_id="fake/drift", num_frames=33)  # 4 windows
    joins = [9, 17, 25]
    drifting = list(generate_long_shot(DriftingBackend(), request, match_colours=False))[-1]
    _, matched = _run(DriftingBackend(), request)
    d = DriftingBackend
    drift_step = float(np.linalg.norm((d.DRIFT_L, d.DRIFT_A, d.DRIFT_B)))

    before_joins, before_inside = _join_jumps(drifting.frames, joins)
    after_joins, after_inside = _join_jumps(matched.frames, joins)
    print(f"join jump {before_joins:.2f} -> {after_joins:.2f} (inside {before_inside:.2f})")
    assert before_joins > 0.7 * drift_step and before_inside < 1.0  # the symptom
    assert after_joins < 2 * after_inside + 0.2  # no bigger than the frame-to-frame change
    assert after_joins < before_joins / 20
    # and it no longer compounds: the last window has the first window's colours
    first = colour_stats(matched.frames[:9]).mean
    last_before = colour_stats(drifting.frames[-8:]).mean
    last_after = colour_stats(matched.frames[-8:]).mean
    assert np.linalg.norm(last_before - first) > 2 * drift_step  # three windows of drift
    assert np.linalg.norm(last_after - first) < 1.5
    # the first window is left as the model made it
    assert np.array_equal(matched.frames[:9], drifting.frames[:9])
    gains = matched.info["long_shot"]["colour_match"]
    assert gains[0] is None and len(gains) == 4


def test_lab_round_trip_keeps_colours():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    assert np.abs(lab_to_rgb(rgb_to_lab(rgb)).astype(int) - rgb).max() <= 1
    white = rgb_to_lab(np.full((1, 1, 3), 255, np.uint8))[0, 0]
    assert white == pytest.approx([100.0, 0.0, 0.0], abs=1e-3)
