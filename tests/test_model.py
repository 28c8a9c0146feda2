"""The embedded model's pieces: shapes, initialisation, sampler, determinism."""

import numpy as np
import pytest
import torch

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.backend import (
    CancelToken,
    GenerationCancelled,
    GenerationResult,
    LatentsReady,
    StepEvent,
)
from sora_desktop.engine.embedded import world
from sora_desktop.engine.embedded.dit import DiTConfig, VideoDiT, sincos_3d
from sora_desktop.engine.embedded.vae import VAEConfig, VideoVAE
from sora_desktop.engine.sampler import euler_sample, flow_timesteps


def test_vae_compresses_4x_space_2x_time_and_decodes_back():
    vae = VideoVAE(VAEConfig.preset("micro")).eval()
    x = torch.rand(2, 3, 16, 64, 64) * 2 - 1
    mean, logvar = vae.encode(x)
    assert mean.shape == (2, 4, 8, 16, 16) and logvar.shape == mean.shape
    assert vae.decode(mean).shape == x.shape


def test_dit_starts_as_zero_velocity_and_keeps_shape():
    cfg = DiTConfig.preset("micro")
    dit = VideoDiT(cfg).eval()
    x = torch.randn(2, 4, 8, 16, 16)
    text = torch.randn(2, 5, cfg.text_dim)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    v = dit(x, torch.rand(2), text, mask)
    assert v.shape == x.shape
    assert torch.count_nonzero(v) == 0  # adaLN-Zero + zero output layer


def test_dit_patchify_round_trip():
    dit = VideoDiT(DiTConfig.preset("micro"))
    x = torch.randn(1, 4, 8, 16, 16)
    tokens, grid = dit.patchify(x)
    assert tokens.shape == (1, 4 * 8 * 8, 4 * 8) and grid == (4, 8, 8)
    assert torch.equal(dit.unpatchify(tokens, grid), x)


def test_3d_positions_are_distinct():
    pos = sincos_3d(4, 8, 8, 64)
    assert pos.shape == (256, 64)
    assert torch.unique(pos, dim=0).shape[0] == 256


def test_flow_timesteps_and_shift():
    ts = flow_timesteps(10)
    assert ts[0] == 1.0 and ts[-1] == 0.0 and torch.all(ts[1:] < ts[:-1])
    shifted = flow_timesteps(10, shift=3.0)
    assert torch.all(shifted[1:-1] > ts[1:-1])
    with pytest.raises(ValueError, match="steps"):
        flow_timesteps(0)


def test_euler_sampler_integrates_a_known_flow_exactly():
    # For data x0 the exact rectified-flow velocity along x_t = (1-t)x0 + t*eps is eps - x0.
    x0 = torch.tensor([[3.0, -2.0]])
    eps = torch.tensor([[0.5, 1.5]])
    steps = list(euler_sample(lambda x, t: eps - x0, eps.clone(), steps=7))
    assert [s.index for s in steps] == list(range(1, 8))
    assert torch.allclose(steps[-1].x, x0, atol=1e-5)
    assert torch.allclose(steps[0].x0, x0, atol=1e-5)


def test_world_render_matches_scene():
    rng = np.random.default_rng(1)
    scene = world.sample_scene(rng, max_objects=1)
    frames = world.render(scene)
    assert frames.shape == (16, 64, 64, 3) and frames.dtype == np.uint8
    corner = frames[0, 0, 0].astype(int)
    if scene.background2 is None:
        assert np.abs(corner - np.array(world.COLORS[scene.background])).max() <= 1
    cx, cy, _ = world.object_state(scene.main, 0)
    centre = frames[0, int(round(cy)), int(round(cx))].astype(int)
    assert np.abs(centre - np.array(world.COLORS[scene.main.color])).max() <= 1


def test_held_out_split_is_stable_and_disjoint():
    rng = np.random.default_rng(0)
    train = [world.sample_scene(rng, held_out=False) for _ in range(200)]
    held = [world.sample_scene(rng, held_out=True) for _ in range(200)]
    assert not any(world.is_held_out(s) for s in train)
    assert all(world.is_held_out(s) for s in held)


def _run(backend, request, cancel=None):
    events = list(backend.generate(request, cancel))
    return events[:-1], events[-1]


@pytest.fixture(scope="module")
def micro_backend(micro_model_dir):
    from sora_desktop.engine.embedded.pipeline import EmbeddedBackend

    return EmbeddedBackend(micro_model_dir, device="cpu")


def test_generate_yields_steps_then_frames(micro_backend):
    req = GenerationRequest("a red circle moves right on a blue background", steps=3, seed=5)
    events, result = _run(micro_backend, req)
    # the latents come once, after the last step and before the decode (issue 17)
    assert isinstance(events[-1], LatentsReady) and not any(
        isinstance(e, LatentsReady) for e in events[:-1]
    )
    steps = events[:-1]
    assert [e.step for e in steps] == [1, 2, 3] and all(isinstance(e, StepEvent) for e in steps)
    assert steps[0].preview.shape == (64, 64, 3) and steps[0].preview.dtype == np.uint8
    assert isinstance(result, GenerationResult)
    assert result.frames.shape == (16, 64, 64, 3) and result.frames.dtype == np.uint8


def test_same_seed_same_video_bit_for_bit(micro_backend):
    req = GenerationRequest("a blue square falls", steps=2, seed=11)
    _, a = _run(micro_backend, req)
    _, b = _run(micro_backend, req)
    _, c = _run(micro_backend, req.with_changes(seed=12))
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)


def test_long_clips_chain_segments(micro_backend):
    req = GenerationRequest("a star orbits", steps=1, num_frames=40)
    steps, result = _run(micro_backend, req)
    assert result.frames.shape[0] == 40
    assert {e.segment for e in steps} == {0, 1, 2} and steps[0].segments == 3


def test_cancel_stops_within_a_step(micro_backend):
    token = CancelToken()
    seen = []
    with pytest.raises(GenerationCancelled):
        for event in micro_backend.generate(GenerationRequest("a dot", steps=10), token):
            seen.append(event)
            token.cancel()
    assert len(seen) == 1


def test_backend_refuses_sizes_it_cannot_make(micro_backend):
    with pytest.raises(ValueError, match="width/height"):
        list(micro_backend.generate(GenerationRequest("a dot", width=128, height=64)))
    with pytest.raises(ValueError, match="num_frames"):
        list(micro_backend.generate(GenerationRequest("a dot", num_frames=1000)))


def test_start_image_conditions_the_clip(micro_backend, tmp_path):
    import cv2

    img = np.zeros((64, 64, 3), np.uint8)
    img[:] = (0, 200, 0)
    path = tmp_path / "start.png"
    cv2.imwrite(str(path), img)
    req = GenerationRequest("a dot", steps=2, seed=3)
    _, plain = _run(micro_backend, req)
    _, started = _run(micro_backend, req.with_changes(start_image=str(path)))
    assert not np.array_equal(plain.frames, started.frames)
    with pytest.raises(ValueError, match="start_image"):
        list(micro_backend.generate(req.with_changes(start_image=str(tmp_path / "missing.png"))))


def test_corrupt_weights_give_a_clear_error(micro_model_dir, tmp_path):
    import shutil

    from sora_desktop.engine.embedded.weights import load_checkpoint

    broken = tmp_path / "broken"
    shutil.copytree(micro_model_dir, broken)
    (broken / "dit.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint(broken)
    (broken / "dit.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        load_checkpoint(broken)


def test_decoder_refinement_changes_only_the_decoder(micro_model_dir, tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from safetensors.torch import load_file

    ckpt = tmp_path / "ckpt"
    shutil.copytree(micro_model_dir, ckpt)
    before_vae = load_file(str(ckpt / "vae.safetensors"))
    before_dit = load_file(str(ckpt / "dit.safetensors"))
    train = Path(__file__).resolve().parents[1] / "model" / "train.py"
    cmd = [sys.executable, str(train), "--preset", "micro", "--refine-only", str(ckpt)]
    subprocess.run([*cmd, "--decoder-steps", "2"], check=True, capture_output=True, timeout=300)
    after_vae = load_file(str(ckpt / "vae.safetensors"))
    after_dit = load_file(str(ckpt / "dit.safetensors"))
    assert all(torch.equal(before_dit[k], after_dit[k]) for k in before_dit)
    changed = {k for k in before_vae if not torch.equal(before_vae[k], after_vae[k])}
    assert changed and all(k.startswith("dec") for k in changed)
    assert any(k.startswith("enc") for k in before_vae)


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [("dit", "width", 10**6), ("dit", "depth", 100_000), ("vae", "channels", [32, 64, 10**7])],
)
def test_absurd_sizes_in_config_are_refused_before_allocating(
    micro_model_dir, tmp_path, section, field, value
):
    import json
    import shutil

    from sora_desktop.engine.embedded.weights import load_checkpoint

    ckpt = tmp_path / "ckpt"
    shutil.copytree(micro_model_dir, ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    config[section][field] = value
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=rf"{section}\.{field}.*out of range"):
        load_checkpoint(ckpt)


def test_resume_continues_the_diffusion_model_and_keeps_the_autoencoder(micro_model_dir, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from safetensors.torch import load_file

    train = Path(__file__).resolve().parents[1] / "model" / "train.py"
    base = [sys.executable, str(train), "--preset", "micro", "--resume", str(micro_model_dir)]
    base += ["--pool", "8", "--batch", "4", "--dit-steps", "2", "--seed", "5"]
    frozen, moved = tmp_path / "frozen", tmp_path / "moved"
    subprocess.run([*base, "--out", str(frozen), "--lr", "0"], check=True, capture_output=True)
    subprocess.run([*base, "--out", str(moved), "--lr", "1e-2"], check=True, capture_output=True)
    src_dit = load_file(str(micro_model_dir / "dit.safetensors"))
    src_vae = load_file(str(micro_model_dir / "vae.safetensors"))
    # with a zero learning rate the continued model is the source model: it started from it
    frozen_dit = load_file(str(frozen / "dit.safetensors"))
    assert all(torch.equal(src_dit[k], frozen_dit[k]) for k in src_dit)
    moved_dit = load_file(str(moved / "dit.safetensors"))
    assert any(not torch.equal(src_dit[k], moved_dit[k]) for k in src_dit)
    moved_vae = load_file(str(moved / "vae.safetensors"))
    assert all(torch.equal(src_vae[k], moved_vae[k]) for k in src_vae)
    src_cfg = json.loads((micro_model_dir / "config.json").read_text())
    cfg = json.loads((moved / "config.json").read_text())
    for key in ("latent_mean", "latent_std", "latent_rgb"):
        assert cfg[key] == src_cfg[key]
    steps_before = src_cfg["training"]["dit_steps_done"]
    assert cfg["training"]["dit_steps_done"] == steps_before + 2
    assert cfg["training"]["resumed_from"]["dit_steps_done"] == steps_before


def _train_recipe():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "model" / "train.py"
    spec = importlib.util.spec_from_file_location("sora_train_recipe", path)
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    return train


def test_object_mask_marks_the_latent_cells_an_object_covers():
    train = _train_recipe()
    # a still square centred at (20, 40), corners 7.5 px out: pixels 14..25 across, 34..45 down
    obj = world.SceneObject("square", "red", "still", x=20.0, y=40.0, radius=6.0, speed=0.0)
    scene = world.Scene([obj], background="blue")
    frames = world.render(scene)[None]  # (1, T, H, W, 3)
    mask = train.object_mask([scene], frames, (2, 4, 4))  # (1, T', 16, 16)
    assert mask.shape == (1, world.FRAMES // 2, world.SIZE // 4, world.SIZE // 4)
    cells = mask[0, 0].nonzero()
    rows, cols = cells[:, 0], cells[:, 1]
    # covered cells (rows 8..11, cols 3..6 at 4 px a cell) plus a one-cell margin
    assert (rows.min().item(), rows.max().item()) == (7, 12)
    assert (cols.min().item(), cols.max().item()) == (2, 7)
    assert torch.equal(mask[0, 0], mask[0, -1])  # still: the same cells in every latent frame
    assert mask.sum() < mask.numel() / 4  # the empty background is not marked


def test_shape_weights_draw_clips_by_their_main_objects_shape():
    train = _train_recipe()

    def clip(shape: str) -> world.Scene:
        return world.Scene(
            [world.SceneObject(shape, "red", "still", 32.0, 32.0, 10.0, 0.0)], "blue"
        )

    scenes = [clip("square"), clip("circle"), clip("star"), clip("circle")]
    probs = train.clip_probs(scenes, "circle:3,square:0.5")
    # weights 0.5, 3, 1 (unnamed shapes keep 1), 3 over a total of 7.5
    np.testing.assert_allclose(probs, [0.5 / 7.5, 3 / 7.5, 1 / 7.5, 3 / 7.5])
    np.testing.assert_allclose(train.clip_probs(scenes, ""), [0.25] * 4)
    with pytest.raises(ValueError, match="--shape-weights"):
        train.clip_probs(scenes, "hexagon:2")
    pair = world.Scene(clip("star").objects + clip("square").objects, "blue")
    # the two-object clip counts twice: weights 1 and 2 over 3
    np.testing.assert_allclose(
        train.clip_probs([clip("star"), pair], "", multi=2.0), [1 / 3, 2 / 3]
    )
    orbit = world.Scene(
        [world.SceneObject("star", "red", "orbiting", 32.0, 32.0, 10.0, 0.0)], "blue"
    )
    # motion weights multiply the shape weight: star 2 x orbiting 3 = 6 against 2
    np.testing.assert_allclose(
        train.clip_probs([clip("star"), orbit], "star:2", motions="orbiting:3"), [0.25, 0.75]
    )
    with pytest.raises(ValueError, match="--motion-weights"):
        train.clip_probs(scenes, "", motions="spinning:2")


def test_bf16_autocast_only_where_the_device_runs_it_natively(monkeypatch):
    train = _train_recipe()
    cpu = torch.device("cpu")
    # an AVX-512 CPU without AVX512-BF16 or AMX emulates bf16: a step is slower than fp32
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert train.resolve_bf16("auto", False, cpu) is False
    assert train.resolve_bf16("on", False, cpu) is True
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert train.resolve_bf16("auto", False, cpu) is True
    assert train.resolve_bf16("off", False, cpu) is False
    assert train.resolve_bf16("auto", True, cpu) is False  # --no-bf16 still wins
    assert train.resolve_bf16("auto", False, torch.device("mps")) is False
