"""The one rule for where shots sit in the film and how a join blends (core/film_joins): the
export (concat_clips / assemble_film), the film's sound (film_sound.shot_starts) and the
player's whole-storyboard preview (studio/film_preview) all follow it."""

from __future__ import annotations

import numpy as np
import pytest

from sora_desktop.core.film_joins import blend_join, film_cut, join_starts


def ramp(frames: int, h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (frames, h, w, 3), dtype=np.uint8)


def test_shots_overlap_by_the_crossfade_and_the_film_is_that_much_shorter():
    assert join_starts([8, 8, 8], 3) == [0, 5, 10]
    cut = film_cut([(8, 8), (8, 8), (8, 8)], 8, 3)
    assert cut.frames == 24 - 2 * 3
    assert [(p.first, p.count, p.fade_in, p.fade_out) for p in cut.kept] == [
        (0, 8, 0, 3),
        (5, 8, 3, 3),
        (10, 8, 3, 0),
    ]
    # outside a join one source frame; inside it both, the later one's share rising by 1/(c+1)
    assert cut.sources(2) == ((0, 2, 1.0),)
    assert cut.sources(6) == ((0, 6, pytest.approx(0.5)), (1, 1, pytest.approx(0.5)))
    assert cut.sources(5) == ((0, 5, pytest.approx(0.75)), (1, 0, pytest.approx(0.25)))
    assert sum(w for *_, w in cut.sources(11)) == pytest.approx(1.0)


def test_a_crossfade_longer_than_a_shot_is_refused_with_the_shot_named():
    with pytest.raises(ValueError, match="too long for the film's shot 2 \\(5 frames\\)"):
        join_starts([8, 5, 8], 3)
    with pytest.raises(ValueError, match="must not be negative"):
        film_cut([(8, 8)], 8, -1)
    assert film_cut([(2, 8)], 8, 5).frames == 2  # one shot: no join, any cross-fade


def test_retiming_happens_before_the_joins_and_empty_shots_are_left_out():
    # a one-frame shot at 1 fps in a 24 fps film still shows; at 8 fps, 16 frames -> 48 at 24
    cut = film_cut([(16, 8), (8, 24)], 24, 4)
    assert [p.count for p in cut.kept] == [48, 8]
    assert cut.kept[1].first == 44 and cut.frames == 52


def test_concat_clips_and_the_sound_places_follow_the_rule():
    from sora_desktop.engine.export.frames import concat_clips
    from sora_desktop.studio.film_sound import shot_starts

    clips = [ramp(8, 6, 4, 1), ramp(6, 6, 4, 2), ramp(7, 6, 4, 3)]
    out = concat_clips(clips, 3)
    cut = film_cut([(len(c), 8) for c in clips], 8, 3)
    assert len(out) == cut.frames == 21 - 6
    for k in range(cut.frames):  # every film frame is what the rule says makes it
        want = sum(w * clips[s][f].astype(np.float64) for s, f, w in cut.sources(k))
        assert np.abs(out[k].astype(np.float64) - want).max() <= 0.5 + 1e-3, k
    assert shot_starts([(len(c), 8) for c in clips], 8, 3) == [(0, 8), (5, 6), (8, 7)]


def test_blend_join_in_pieces_is_the_same_bytes_as_in_one_go():
    tail, head = ramp(5, 4, 4, 7), ramp(5, 4, 4, 8)
    whole = blend_join(tail, head)
    parts = [blend_join(tail[i : i + 1], head[i : i + 1], i, 5) for i in range(5)]
    assert np.array_equal(np.concatenate(parts), whole)
    with pytest.raises(ValueError):
        blend_join(tail[:2], head[:2], 4, 5)


@pytest.mark.parametrize("crossfade", [0, 2])
def test_the_players_preview_is_the_exports_film_frame_for_frame(crossfade):
    """Mixed rates and sizes: the preview (one clip held at a time, joins blended alone) makes
    the very frames engine/export/film.assemble_film makes."""
    from sora_desktop.core.film_layout import canvas_size
    from sora_desktop.engine.export.film import assemble_film, fit_frames
    from sora_desktop.studio.film_preview import PreviewFilm, assemble_preview

    clips = [(ramp(8, 8, 8, 1), 8.0), (ramp(5, 6, 12, 2), 16.0), (ramp(9, 8, 8, 3), 8.0)]
    film = PreviewFilm(16, crossfade, "letterbox", "nearest")
    want = assemble_film(clips, 16, fit="letterbox", crossfade_frames=crossfade)
    converted: list[int] = []

    def convert(frame):
        converted.append(1)
        return frame.copy()

    def fit(frames):
        return fit_frames(frames, canvas_size([(12, 6), (8, 8)]), "letterbox", "nearest")

    got, cut = assemble_preview([(lambda f=f: list(f), r) for f, r in clips], film, convert, fit)
    assert len(got) == len(want) == cut.frames
    assert np.array_equal(np.stack(got), want)
    # frames repeated by retiming are converted once (8 fps shots at 16 fps show each twice)
    assert len(converted) < len(got)


def test_decoded_clips_of_other_sizes_and_rates_preview_as_exported(tmp_path):
    """Real files (the mixed storyboard: 64x64 at 8 fps, 48x48 at 16, 96x64 at 24): the
    preview decoded from them is the export's film, letterbox bars and cross-fades included."""
    from sora_desktop.engine.export import read_video
    from sora_desktop.engine.export.film import assemble_film
    from sora_desktop.studio.film import film_clips
    from sora_desktop.studio.film_preview import PreviewFilm, decode_film
    from tests.film_support import mixed_project

    project = mixed_project(tmp_path / "film")
    paths = film_clips(project)
    film = PreviewFilm(24, 3, "letterbox", "nearest")
    got, cut = decode_film(paths, film, lambda f: f.copy(), 640, 1 << 30)
    want = assemble_film([read_video(p) for p in paths], 24, crossfade_frames=3)
    assert len(got) == cut.frames == len(want)
    assert np.array_equal(np.stack(got), want)
    # at a smaller size for the screen: the same film, scaled (each side within a pixel)
    small, _cut = decode_film(paths, film, lambda f: f.copy(), 48, 1 << 30)
    assert len(small) == len(want) and small[0].shape == (32, 48, 3)
