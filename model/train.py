"""Training recipe for the embedded model: one seeded command rebuilds the shipped checkpoint.

    python model/train.py --out model/embedded            # ~1 h on a 2-core CPU, minutes on a GPU
    python model/train.py --preset micro --out /tmp/m --vae-steps 3 --dit-steps 3 --pool 8
    python model/train.py --resume model/embedded --out /tmp/more --seed 7 --pool 8192 \
        --dit-steps 30000 --time-budget-min 110    # continue stage 2 on a fresh pool

Stage 1 trains the video autoencoder on procedural clips; stage 2 encodes a pool of clips once
and trains the diffusion transformer on their latents with rectified flow, text dropout (for
classifier-free guidance) and first-frame conditioning, its loss weighted toward the latent
cells the objects cover (``--fg-weight``; the captions' MiniLM states are cached once per pool
clip, ``--captions-per-clip`` paraphrases each; ``--shape-weights`` can draw the clips whose
main object is a still-confused shape more often); stage 3 refines the decoder
alone on the frozen encoder's latents (sharper edges without moving the latent space the DiT
learned). Weights are saved as safetensors with a config.json beside them, every
``--save-every`` steps, atomically.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sora_desktop.engine.embedded import world  # noqa: E402
from sora_desktop.engine.embedded.dit import DiTConfig, VideoDiT  # noqa: E402
from sora_desktop.engine.embedded.vae import VAEConfig, VideoVAE  # noqa: E402
from sora_desktop.engine.embedded.weights import load_checkpoint, save_checkpoint  # noqa: E402
from sora_desktop.engine.text_encoder import TextEncoder  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(B, T, H, W, 3) uint8 → (B, 3, T, H, W) float in [-1, 1]."""
    return torch.from_numpy(frames).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


def render_batch(rng: np.random.Generator, n: int) -> tuple[list[world.Scene], np.ndarray]:
    scenes = [world.sample_scene(rng, held_out=False) for _ in range(n)]
    return scenes, np.stack([world.render(s) for s in scenes])


def autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bf16 autocast speeds training up on ``device``.

    On a CPU with AVX512-BF16 or AMX it halves a step; without them torch emulates bf16 and a
    step is about 3.5 times slower than in fp32 (measured on an AVX-512 Xeon without either).
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_bf16(choice: str, no_bf16: bool, device: torch.device) -> bool:
    if no_bf16 or choice == "off":
        return False
    return choice == "on" or bf16_is_fast(device)


# ---------------------------------------------------------------------------------------------
#                                       Stage 1: autoencoder
# ---------------------------------------------------------------------------------------------


def warmup_cosine(base: float, step: int, total: int) -> float:
    """50 warm-up steps, then cosine down to 5 % of ``base``."""
    return base * min(1.0, step / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / total)))


def clip_batch(args, rng: np.random.Generator, device) -> torch.Tensor:
    """A batch of ``args.vae_frames``-frame windows cut from fresh clips, (B, 3, T, H, W)."""
    _, frames = render_batch(rng, args.vae_batch)
    start = int(rng.integers(0, world.FRAMES - args.vae_frames + 1)) // 2 * 2
    return to_tensor(frames[:, start : start + args.vae_frames]).to(device)


def recon_loss(recon, x, edge_weight: float):
    """L1 + MSE + image-gradient term: sharp edges keep corners, which is how shapes are told
    apart."""
    dx = (recon.diff(dim=-1) - x.diff(dim=-1)).abs().mean()
    dy = (recon.diff(dim=-2) - x.diff(dim=-2)).abs().mean()
    return (recon - x).abs().mean() + F.mse_loss(recon, x) + edge_weight * (dx + dy)


def optimizer_step(opt, loss, params) -> None:
    """Backward, clip the gradient norm at 1, step: the same update in every stage."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def train_vae(args, device, bf16, rng) -> VideoVAE:
    vae = VideoVAE(VAEConfig.preset(args.preset)).to(device)
    opt = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr, weight_decay=0.0)
    t0 = time.time()
    for step in range(1, args.vae_steps + 1):
        for g in opt.param_groups:
            g["lr"] = warmup_cosine(args.vae_lr, step, args.vae_steps)
        x = clip_batch(args, rng, device)
        with autocast(device, bf16):
            recon, mean, logvar = vae(x)
        recon, mean, logvar = recon.float(), mean.float(), logvar.float()
        rec = recon_loss(recon, x, edge_weight=0.5)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
        loss = rec + args.kl_weight * kl
        optimizer_step(opt, loss, vae.parameters())
        if step % 50 == 0 or step == args.vae_steps:
            log(
                f"vae {step}/{args.vae_steps} rec {rec.item():.4f} kl {kl.item():.2f} "
                f"{(time.time() - t0) / step:.2f}s/step"
            )
    return vae.eval().requires_grad_(False)


# ---------------------------------------------------------------------------------------------
#                                       Latent pool
# ---------------------------------------------------------------------------------------------


def object_mask(scenes: list[world.Scene], frames: np.ndarray, down: tuple[int, int, int]):
    """Where the objects are, on the latent grid: (B, T', h, w) uint8, one latent cell wider.

    A pixel belongs to an object where the frame differs from its scene's empty background; a
    latent cell is marked if any pixel it covers is.
    """
    bg = np.stack([world.background_image(s).astype(np.uint8) for s in scenes])  # (B, H, W, 3)
    diff = np.abs(frames.astype(np.int16) - bg[:, None].astype(np.int16)).max(-1) > 8
    m = torch.from_numpy(diff).float().unsqueeze(1)  # (B, 1, T, H, W)
    m = F.max_pool3d(m, down)  # (B, 1, T', h, w)
    m = F.max_pool3d(m, (1, 3, 3), stride=1, padding=(0, 1, 1))  # dilate by one cell
    return m[:, 0].to(torch.uint8)


class Pool(NamedTuple):
    """Training clips encoded once, with what stage 2 needs from them."""

    scenes: list[world.Scene]
    z: torch.Tensor  # (N, C, T', h, w) latents
    c: torch.Tensor  # (N, C, 1, h, w) start-frame latents
    fg: torch.Tensor  # (N, T', h, w) uint8 object mask on the latent grid
    ch_mean: torch.Tensor  # (C,) latent statistics the DiT is trained on
    ch_std: torch.Tensor
    proj: torch.Tensor  # (C + 1, 3) latent → RGB preview projection


@torch.no_grad()
def build_pool(args, vae, device, bf16, rng) -> Pool:
    """Encode ``args.pool`` clips once, with their object masks and the latent statistics."""
    scenes, z_all, c_all, m_all, rgb_x, rgb_y = [], [], [], [], [], []
    t0 = time.time()
    chunk = 32
    for i in range(0, args.pool, chunk):
        n = min(chunk, args.pool - i)
        s, frames = render_batch(rng, n)
        x = to_tensor(frames).to(device)
        with autocast(device, bf16):
            mean, _ = vae.encode(x)  # (n, C, T', h, w)
            first = x[:, :, :1].repeat(1, 1, vae.cfg.temporal_down, 1, 1)
            cmean, _ = vae.encode(first)  # (n, C, 1, h, w)
        scenes += s
        z_all.append(mean.float().cpu())
        c_all.append(cmean.float().cpu())
        down = (
            vae.cfg.temporal_down,
            frames.shape[2] // mean.shape[3],
            frames.shape[3] // mean.shape[4],
        )
        m_all.append(object_mask(s, frames, down))
        if len(rgb_x) < 8:  # samples for the latent → RGB preview projection
            pooled = F.avg_pool3d(x, down).cpu()  # (n, 3, T', h, w)
            rgb_x.append(mean.float().cpu().permute(0, 2, 3, 4, 1).reshape(-1, mean.shape[1]))
            rgb_y.append(pooled.permute(0, 2, 3, 4, 1).reshape(-1, 3))
    z = torch.cat(z_all)
    c = torch.cat(c_all)
    fg = torch.cat(m_all)
    ch_mean = z.mean(dim=(0, 2, 3, 4))
    ch_std = z.std(dim=(0, 2, 3, 4)).clamp(min=1e-3)
    X = torch.cat(rgb_x)
    X = torch.cat([X, torch.ones(len(X), 1)], dim=1)
    Y = torch.cat(rgb_y)
    proj = torch.linalg.lstsq(X, Y).solution  # (C+1, 3)
    log(
        f"pool: {len(scenes)} clips encoded in {time.time() - t0:.0f}s, latent {tuple(z.shape[1:])}"
        f", objects cover {fg.float().mean().item():.0%} of it"
    )
    return Pool(scenes, z, c, fg, ch_mean, ch_std, proj)


# ---------------------------------------------------------------------------------------------
#                                       Stage 2: diffusion transformer
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def cache_captions(text: TextEncoder, scenes, rng, per_clip: int, chunk: int = 64):
    """Encode ``per_clip`` paraphrased captions of every pool clip once: (N, K, L, D) bf16 token
    states and (N, K, L) masks. The frozen encoder then costs nothing per training step."""
    embs, masks = [], []
    for i in range(0, len(scenes), chunk):
        caps = [world.caption(s, rng) for s in scenes[i : i + chunk] for _ in range(per_clip)]
        e, m = text.encode(caps)
        embs.append(e.to(torch.bfloat16).cpu().view(-1, per_clip, *e.shape[1:]))
        masks.append(m.cpu().view(-1, per_clip, m.shape[-1]))
    return torch.cat(embs), torch.cat(masks)


def dit_lr(args, step: int, frac: float) -> float:
    """200 warm-up steps, flat, then a cosine over the last 30 % of the run (steps or time)."""
    decay = 0.5 * (1 + math.cos(math.pi * (frac - 0.7) / 0.3)) if frac > 0.7 else 1.0
    return args.lr * min(1.0, step / 200) * decay


def _parse_weights(spec: str, names: tuple[str, ...], flag: str) -> dict[str, float]:
    weights = {n: 1.0 for n in names}
    for part in filter(None, spec.split(",")):
        name, _, value = part.partition(":")
        if name.strip() not in weights or not value:
            raise ValueError(f"{flag}: {part!r}; expected name:weight, names {names}")
        weights[name.strip()] = float(value)
    return weights


def clip_probs(
    scenes: list[world.Scene], spec: str, multi: float = 1.0, motions: str = ""
) -> np.ndarray:
    """Per-clip sampling probabilities from ``"circle:2,star:2"`` (main object's shape; others 1).

    A square is the shape a half-learned model falls back to, so a continuation can spend its
    batches on the shapes it still confuses with one; ``multi`` multiplies the weight of clips
    with two or three objects, where shapes land on the wrong object, and ``motions``
    (``"orbiting:2"``) weights the main object's motion, since a fast orbit smears its shape.
    """
    by_shape = _parse_weights(spec, world.SHAPES, "--shape-weights")
    by_motion = _parse_weights(motions, world.MOTIONS, "--motion-weights")
    w = np.array(
        [
            by_shape[s.main.shape]
            * by_motion[s.main.motion]
            * (multi if len(s.objects) > 1 else 1.0)
            for s in scenes
        ]
    )
    return w / w.sum()


def train_dit(args, vae, pool: Pool, device, bf16, rng, save, init: VideoDiT | None = None):
    """Rectified-flow training on the pool's latents; ``init`` continues an existing model."""
    scenes, z, c, fg, ch_mean, ch_std, _ = pool
    shape = (1, -1, 1, 1, 1)
    zn = ((z - ch_mean.view(shape)) / ch_std.view(shape)).to(torch.bfloat16)
    cn = ((c - ch_mean.view(shape)) / ch_std.view(shape)).to(torch.bfloat16)
    text = TextEncoder(device=device)
    t0 = time.time()
    caps_e, caps_m = cache_captions(text, scenes, rng, args.captions_per_clip)
    null_e, null_m = text.encode([""])
    log(f"captions: {tuple(caps_e.shape)} token states cached in {time.time() - t0:.0f}s")
    if init is None:
        cfg = DiTConfig.preset(args.preset)
        cfg.latent_channels = vae.cfg.latent_channels
        cfg.text_dim = text.dim
        dit = VideoDiT(cfg).to(device)
    else:
        dit = init.to(device).float().train().requires_grad_(True)
    ema = copy.deepcopy(dit).eval().requires_grad_(False)
    opt = torch.optim.AdamW(dit.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.99))
    log(f"dit: {sum(p.numel() for p in dit.parameters()) / 1e6:.2f}M parameters")
    gen = torch.Generator().manual_seed(args.seed + 1)
    probs = clip_probs(scenes, args.shape_weights, args.multi_weight, args.motion_weights)
    weighted = not np.allclose(probs, probs[0])
    t0 = time.time()
    losses = []
    for step in range(1, args.dit_steps + 1):
        frac = step / args.dit_steps
        if args.time_budget_min:  # anneal on time too, so a budget still ends at a low rate
            frac = max(frac, (time.time() - t0) / (args.time_budget_min * 60))
        lr = dit_lr(args, step, frac)
        for g in opt.param_groups:
            g["lr"] = lr
        # uniform draws keep the integers() stream, so the default recipe reproduces earlier runs
        if weighted:
            idx = torch.from_numpy(rng.choice(len(scenes), args.batch, p=probs))
        else:
            idx = torch.from_numpy(rng.integers(0, len(scenes), args.batch))
        pick = torch.from_numpy(rng.integers(0, args.captions_per_clip, args.batch))
        x0 = zn[idx].float().to(device)  # (B, C, T', h, w)
        emb, mask = caps_e[idx, pick].float().to(device), caps_m[idx, pick].to(device)
        drop = torch.from_numpy(rng.random(args.batch) < args.text_dropout).to(device)
        emb[drop], mask[drop] = null_e[0], null_m[0]
        use_cond = (
            torch.from_numpy(rng.random(args.batch) < args.cond_prob).float().view(-1, 1, 1, 1, 1)
        )
        cond = torch.zeros_like(x0)
        cond[:, :, :1] = cn[idx].float().to(device)
        cond_mask = torch.zeros_like(x0[:, :1])
        cond_mask[:, :, :1] = 1.0
        cond, cond_mask = cond * use_cond.to(device), cond_mask * use_cond.to(device)
        # Shifted-uniform times: a colour or a path is a global feature that stays readable in
        # x_t until t is very close to 1, so the model must practise there or it never needs
        # the text (sampling uses the same shift).
        u = torch.rand(args.batch, generator=gen)
        t = (args.t_shift * u / (1 + (args.t_shift - 1) * u)).to(device)
        noise = torch.randn(x0.shape, generator=gen).to(device)
        tt = t.view(-1, 1, 1, 1, 1)
        xt = (1 - tt) * x0 + tt * noise
        with autocast(device, bf16):
            v = dit(xt, t, emb, mask, cond, cond_mask)
        # Objects cover a third of the latent and the flat background is easy, so an unweighted
        # loss spends most of its gradient where nothing is left to learn: weight object cells.
        w = 1.0 + args.fg_weight * fg[idx].float().unsqueeze(1).to(device)  # (B, 1, T', h, w)
        loss = (w * (v.float() - (noise - x0)).pow(2)).mean() / w.mean()
        optimizer_step(opt, loss, dit.parameters())
        # a fresh model warms its average up; a continued one is already a good average
        decay = args.ema if init is not None else min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), dit.parameters(), strict=True):
                pe.lerp_(p, 1 - decay)
        losses.append(loss.item())
        if step % 50 == 0 or step == args.dit_steps:
            log(
                f"dit {step}/{args.dit_steps} loss {np.mean(losses[-50:]):.4f} lr {lr:.2e} "
                f"{(time.time() - t0) / step:.2f}s/step"
            )
        if frac >= 1.0 and step < args.dit_steps:
            log(f"time budget reached at step {step}")
            save(ema, step)
            return ema
        if step % args.save_every == 0 or step == args.dit_steps:
            save(ema, step)
    return ema


# ---------------------------------------------------------------------------------------------
#                                       Stage 3: decoder refinement
# ---------------------------------------------------------------------------------------------


def refine_decoder(args, vae, device, bf16, rng) -> VideoVAE:
    """Train the decoder alone on the frozen encoder's means: sharper corners, same latents,
    so the diffusion transformer (trained on those latents) stays valid."""
    vae.train()
    params = [p for name, p in vae.named_parameters() if name.startswith("dec")]
    for name, p in vae.named_parameters():
        p.requires_grad_(name.startswith("dec"))
    opt = torch.optim.AdamW(params, lr=args.decoder_lr, weight_decay=0.0)
    t0 = time.time()
    for step in range(1, args.decoder_steps + 1):
        for g in opt.param_groups:
            g["lr"] = warmup_cosine(args.decoder_lr, step, args.decoder_steps)
        x = clip_batch(args, rng, device)
        with torch.no_grad(), autocast(device, bf16):
            mean, _ = vae.encode(x)
        with autocast(device, bf16):
            recon = vae.decode(mean.float()).float()
        loss = recon_loss(recon, x, edge_weight=1.0)
        optimizer_step(opt, loss, params)
        if step % 50 == 0 or step == args.decoder_steps:
            log(
                f"decoder {step}/{args.decoder_steps} loss {loss.item():.4f} "
                f"{(time.time() - t0) / step:.2f}s/step"
            )
    return vae.eval().requires_grad_(False)


def refine_only(args, device, bf16, rng) -> None:
    """Stage 3 on an existing checkpoint folder, in place (its DiT and latent stats kept)."""
    ckpt = load_checkpoint(args.refine_only, device)
    vae = refine_decoder(args, ckpt.vae, device, bf16, rng)
    cfg = ckpt.config
    training = dict(cfg.get("training", {}))
    training["decoder_steps_done"] = args.decoder_steps
    training["decoder_lr"] = args.decoder_lr
    save_checkpoint(
        args.refine_only,
        vae=vae,
        dit=ckpt.dit,
        latent_mean=cfg["latent_mean"],
        latent_std=cfg["latent_std"],
        latent_rgb=cfg["latent_rgb"],
        sample_shift=cfg.get("sample_shift", 1.0),
        training=training,
    )
    log(f"saved {args.refine_only} with a refined decoder")


# ---------------------------------------------------------------------------------------------
#                                       Main
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "embedded")
    p.add_argument("--preset", default="small", choices=["small", "micro"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--bf16",
        default="auto",
        choices=["auto", "on", "off"],
        help="bf16 autocast (auto: only where the device runs it natively)",
    )
    p.add_argument("--no-bf16", action="store_true", help="same as --bf16 off")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--vae-steps", type=int, default=1500)
    p.add_argument("--vae-batch", type=int, default=8)
    p.add_argument("--vae-frames", type=int, default=8)
    p.add_argument("--vae-lr", type=float, default=1e-3)
    p.add_argument("--kl-weight", type=float, default=1e-6)
    p.add_argument("--pool", type=int, default=6144)
    p.add_argument("--dit-steps", type=int, default=5000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--t-shift", type=float, default=3.0, help="train/sample timestep shift")
    p.add_argument("--text-dropout", type=float, default=0.1)
    p.add_argument("--cond-prob", type=float, default=0.25)
    p.add_argument(
        "--fg-weight", type=float, default=3.0, help="extra loss weight on object latent cells"
    )
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--time-budget-min", type=float, default=0.0, help="stop stage 2 after this")
    p.add_argument(
        "--decoder-steps", type=int, default=None, help="stage 3 (default: 1000, micro: 0)"
    )
    p.add_argument("--decoder-lr", type=float, default=3e-4)
    p.add_argument(
        "--refine-only", type=Path, help="run stage 3 alone on this checkpoint folder, in place"
    )
    p.add_argument(
        "--resume",
        type=Path,
        help="continue stage 2 from this checkpoint (its autoencoder and latent statistics kept,"
        " a fresh pool drawn with --seed), then save to --out",
    )
    p.add_argument("--captions-per-clip", type=int, default=2, help="paraphrases cached per clip")
    p.add_argument(
        "--shape-weights",
        default="",
        help='draw clips by main-object shape, e.g. "circle:2,star:2" (default: uniform)',
    )
    p.add_argument(
        "--motion-weights",
        default="",
        help='draw clips by main-object motion, e.g. "orbiting:2" (default: uniform)',
    )
    p.add_argument(
        "--multi-weight", type=float, default=1.0, help="draw clips with 2-3 objects this much more"
    )
    args = p.parse_args(argv)
    if args.decoder_steps is None:
        args.decoder_steps = 0 if args.preset == "micro" or args.resume else 1000

    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    bf16 = resolve_bf16(args.bf16, args.no_bf16, device)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    log(f"device {device}, bf16 {bf16}, threads {torch.get_num_threads()}, args {vars(args)}")
    if args.refine_only:
        refine_only(args, device, bf16, rng)
        return

    init, previous, steps_before = None, None, 0
    if args.resume:
        ckpt = load_checkpoint(args.resume, device)
        vae, init, previous = ckpt.vae.float(), ckpt.dit, ckpt.config.get("training", {})
        steps_before = int(previous.get("dit_steps_done", 0))
        # the continued DiT learned the old normalisation: keep it, and the preview projection
        pool = build_pool(args, vae, device, bf16, rng)._replace(
            ch_mean=torch.tensor(ckpt.config["latent_mean"]),
            ch_std=torch.tensor(ckpt.config["latent_std"]),
            proj=torch.tensor(ckpt.config["latent_rgb"]),
        )
    else:
        vae = train_vae(args, device, bf16, rng)
        pool = build_pool(args, vae, device, bf16, rng)

    def save(dit, step, decoder_steps=0):
        recipe = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        recipe["dit_steps_done"] = steps_before + step
        recipe["decoder_steps_done"] = decoder_steps
        if previous is not None:
            recipe["decoder_steps_done"] = decoder_steps or previous.get("decoder_steps_done", 0)
            recipe["resumed_from"] = previous
        save_checkpoint(
            args.out,
            vae=vae,
            dit=dit,
            latent_mean=pool.ch_mean.tolist(),
            latent_std=pool.ch_std.tolist(),
            latent_rgb=pool.proj.tolist(),
            sample_shift=args.t_shift,
            training=recipe,
        )
        log(f"saved {args.out} at step {step}")

    ema = train_dit(args, vae, pool, device, bf16, rng, save, init)
    if args.decoder_steps:
        refine_decoder(args, vae, device, bf16, rng)
        save(ema, args.dit_steps, args.decoder_steps)
    log("done")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
