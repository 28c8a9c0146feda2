"""Benchmark the open-weight video backends: seconds per step and per clip, peak GPU memory per
memory mode, and the app's overhead over calling the diffusers pipeline directly.

The models are the catalog's (model/catalog.json): each catalog video model with a full-size
config in ``FULL`` below is built with *random weights* from the published architecture, so
nothing is downloaded; speed and memory do not depend on the weight values. Text encoders are
the real sizes too (UMT5-XXL, T5-v1.1-XXL). Catalog models without a config are named in the
report as not measured.

    python bench/bench_diffusers.py                       # full size, needs a CUDA GPU
    python bench/bench_diffusers.py --tiny                # tiny models on the CPU (smoke run)
    python bench/bench_diffusers.py --models wan2.1-t2v-1.3b --modes fast --steps 10
    python bench/bench_diffusers.py --tiny --models wan --modes fast --repeats 1 --steps 1
    python bench/bench_diffusers.py --models ID --model-dir FOLDER   # a downloaded model
    python bench/bench_diffusers.py --check-configs      # parameter counts (meta device)

For every model and memory mode the same loaded pipeline is timed twice per repeat: called
directly (``pipe(...)``) and through the app (``DiffusersBackend.generate``: worker thread, step
events, live previews, uint8 conversion). Reported figures are medians over ``--repeats``.
``s_per_clip_default_steps`` extrapolates to the catalog's default step count from the measured
run (fixed part + steps x s/step) when ``--steps`` is lower than the default.

Every run's clip is checked (frames, size, steps reported) before its time counts; if any case
failed (a model that does not load, out of memory, a wrong clip), the script says which and why,
prints no figure, writes no ``--out`` and exits 1. The last stdout line is one JSON object with
``"ok"`` (bench/benchlib.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchlib, also when imported
import benchlib  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # tiny_models for --tiny

# ---------------------------------------------------------------------------- real configs
# Transformer / VAE / text-encoder configs of the published diffusers-format repos.
UMT5_XXL = dict(
    vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
    relative_attention_num_buckets=32, relative_attention_max_distance=128,
    feed_forward_proj="gated-gelu", dense_act_fn="gelu_new", is_gated_act=True,
)  # fmt: skip
T5_V11_XXL = dict(UMT5_XXL, vocab_size=32128)

# One entry per catalog id (model/catalog.json): the architecture of the checkpoint that id
# downloads. An id the catalog no longer has is an error (``catalog_full_ids``), and a current
# catalog video model without an entry here is named in every full-size report as not measured.
# tests/test_bench_selfcheck.py checks each entry's parameter counts against the catalog's
# ``fit`` block (meta device, nothing allocated).
WAN_VAE_2_1 = dict(
    base_dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
    temperal_downsample=[False, True, True],
)  # fmt: skip
FULL = {
    "wan2.1-t2v-1.3b": dict(  # Wan2.1-VACE-1.3B: the 1.3B text model + 15 VACE blocks
        dtype="bf16",
        transformer_cls="WanVACETransformer3DModel",
        transformer=dict(
            patch_size=(1, 2, 2),
            num_attention_heads=12,
            attention_head_dim=128,
            in_channels=16,
            out_channels=16,
            text_dim=4096,
            freq_dim=256,
            ffn_dim=8960,
            num_layers=30,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            eps=1e-6,
            rope_max_seq_len=1024,
            vace_layers=list(range(0, 30, 2)),
            vace_in_channels=96,
        ),  # fmt: skip
        vae_cls="AutoencoderKLWan",
        vae=WAN_VAE_2_1,
        text=("umt5", UMT5_XXL),
    ),
    "wan2.2-ti2v-5b": dict(  # Wan2.2-TI2V-5B with its 4x16x16 VAE (48 latent channels)
        dtype="bf16",
        transformer_cls="WanTransformer3DModel",
        transformer=dict(
            patch_size=(1, 2, 2),
            num_attention_heads=24,
            attention_head_dim=128,
            in_channels=48,
            out_channels=48,
            text_dim=4096,
            freq_dim=256,
            ffn_dim=14336,
            num_layers=30,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            eps=1e-6,
            rope_max_seq_len=1024,
        ),  # fmt: skip
        vae_cls="AutoencoderKLWan",
        vae=dict(
            base_dim=160,
            decoder_base_dim=256,
            z_dim=48,
            dim_mult=[1, 2, 4, 4],
            num_res_blocks=2,
            temperal_downsample=[False, True, True],
            is_residual=True,
            in_channels=12,
            out_channels=12,
            patch_size=2,
            scale_factor_temporal=4,
            scale_factor_spatial=16,
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
        ),  # fmt: skip
        text=("umt5", UMT5_XXL),
        pipeline_kwargs=dict(expand_timesteps=True),
    ),
    "ltx-video-0.9.7-distilled": dict(  # LTX-Video 13B 0.9.7 with the 0.9.5+ VAE
        dtype="bf16",
        transformer_cls="LTXVideoTransformer3DModel",
        transformer=dict(
            in_channels=128,
            out_channels=128,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=32,
            attention_head_dim=128,
            cross_attention_dim=4096,
            num_layers=48,
            caption_channels=4096,
        ),  # fmt: skip
        vae_cls="AutoencoderKLLTXVideo",
        vae=dict(
            block_out_channels=(128, 256, 512, 1024, 2048),
            down_block_types=("LTXVideo095DownBlock3D",) * 4,
            decoder_block_out_channels=(256, 512, 1024),
            layers_per_block=(4, 6, 6, 2, 2),
            decoder_layers_per_block=(5, 5, 5, 5),
            spatio_temporal_scaling=(True, True, True, True),
            decoder_spatio_temporal_scaling=(True, True, True),
            decoder_inject_noise=(False, False, False, False),
            downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
            upsample_residual=(True, True, True),
            upsample_factor=(2, 2, 2),
            timestep_conditioning=True,
            spatial_compression_ratio=32,
            temporal_compression_ratio=8,
        ),  # fmt: skip
        text=("t5", T5_V11_XXL),
    ),
    "cogvideox-1.5-5b": dict(  # CogVideoX1.5-5B: 42 layers, 3D rotary positions, 2-frame patches
        dtype="bf16",
        transformer_cls="CogVideoXTransformer3DModel",
        transformer=dict(
            num_attention_heads=48,
            attention_head_dim=64,
            in_channels=16,
            out_channels=16,
            time_embed_dim=512,
            text_embed_dim=4096,
            num_layers=42,
            sample_width=300,
            sample_height=300,
            sample_frames=81,
            patch_size=2,
            patch_size_t=2,
            temporal_compression_ratio=4,
            max_text_seq_length=224,
            patch_bias=False,
            use_rotary_positional_embeddings=True,
            use_learned_positional_embeddings=False,
        ),  # fmt: skip
        vae_cls="AutoencoderKLCogVideoX",
        vae=dict(scaling_factor=0.7, invert_scale_latents=True),
        text=("t5", T5_V11_XXL),
    ),
}


def catalog_video_ids() -> list[str]:
    """The current catalog's open-weight video models, in catalog order."""
    from sora_desktop.core.catalog import load_catalog

    return [e.id for e in load_catalog() if e.kind == "video" and e.backend == "diffusers"]


def catalog_full_ids() -> tuple[list[str], list[str]]:
    """(catalog ids with a full-size config here, catalog ids without one); ValueError when
    FULL names an id the catalog no longer has (a retired or renamed model)."""
    ids = catalog_video_ids()
    stale = sorted(set(FULL) - set(ids))
    if stale:
        raise ValueError(f"FULL names ids the catalog does not have: {', '.join(stale)}")
    return [i for i in ids if i in FULL], [i for i in ids if i not in FULL]


def _dtype(name: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def _tokenizer():
    from tiny_models import word_tokenizer

    return word_tokenizer(model_max_length=512)


def _scheduler(pipeline: str):
    import diffusers as D

    if pipeline.startswith("CogVideoX"):
        return D.CogVideoXDPMScheduler(
            beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
            prediction_type="v_prediction", rescale_betas_zero_snr=True, snr_shift_scale=1.0,
            timestep_spacing="trailing", clip_sample=False, set_alpha_to_one=True, steps_offset=0,
        )  # fmt: skip
    if pipeline.startswith("Wan"):
        return D.UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        )
    return D.FlowMatchEulerDiscreteScheduler()


def build_full(model_id: str, device: str):
    """A full-size random-weight pipeline of catalog ``model_id``, weights made on ``device``."""
    import diffusers as D
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    from sora_desktop.core.catalog import find_entry

    spec = FULL[model_id]
    entry = find_entry(model_id)
    if entry is None:
        raise ValueError(f"{model_id}: not in the catalog")
    dtype = _dtype(spec["dtype"])
    prev = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # initialise directly in the run dtype: half the memory
    try:
        with torch.device(device):
            kind, tcfg = spec["text"]
            if kind == "umt5":
                text = UMT5EncoderModel(UMT5Config(**tcfg))
            else:
                text = T5EncoderModel(T5Config(**tcfg))
            tr = getattr(D, spec["transformer_cls"])(**spec["transformer"])
            if spec["vae_cls"] != "AutoencoderKLWan":
                vae = getattr(D, spec["vae_cls"])(**spec["vae"])
    finally:
        torch.set_default_dtype(prev)
    # Outside the dtype/device context: schedulers keep float32 tables on the CPU, and the Wan
    # VAE runs in float32 as the Wan docs recommend.
    if spec["vae_cls"] == "AutoencoderKLWan":
        with torch.device(device):
            vae = D.AutoencoderKLWan(**spec["vae"])
    pipe = getattr(D, entry.pipeline)(
        tokenizer=_tokenizer(), text_encoder=text, vae=vae, transformer=tr,
        scheduler=_scheduler(entry.pipeline), **spec.get("pipeline_kwargs", {}),
    )  # fmt: skip
    for m in (pipe.transformer, pipe.vae, pipe.text_encoder):
        m.eval().requires_grad_(False)
    return pipe


def count_params(model_id: str) -> dict[str, float]:
    """Billions of parameters per component, built on the meta device (no memory, no GPU)."""
    pipe = build_full(model_id, "meta")
    return {
        name: round(sum(p.numel() for p in getattr(pipe, name).parameters()) / 1e9, 3)
        for name in ("transformer", "vae", "text_encoder")
    }


def build_tiny(family: str):
    from tiny_models import build_pipeline

    pipe, _ = build_pipeline(family)
    return pipe


# ---------------------------------------------------------------------------- measuring
def _sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _reset_peak():
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_gb() -> float | None:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 1024**3
    return None


def run_case(backend, request, repeats: int, checks: benchlib.Checks, job: str) -> dict[str, Any]:
    """Time the same request directly and through the app; medians over ``repeats``.

    Every run's clip is checked (frame count and size, directly and through the app); a run
    that made no right clip raises, so the case reports no figure.
    """
    from sora_desktop.engine.backend import GenerationResult, StepEvent

    pipe = backend.pipe
    t = time.perf_counter()
    backend.preview_factors()
    calib = time.perf_counter() - t
    kwargs = backend._call_kwargs(request, pipe)
    kwargs["output_type"] = "np"  # the direct call decodes too (the app decodes after latents)
    direct, app, step_times, peaks_direct, peaks_app = [], [], [], [], []
    want = (request.num_frames, request.height, request.width, 3)
    for _ in range(repeats):
        kwargs["generator"] = kwargs["generator"].manual_seed(request.seed)
        _reset_peak()
        _sync()
        t = time.perf_counter()
        out = pipe(**kwargs)
        _sync()
        direct.append(time.perf_counter() - t)
        frames = getattr(out, "frames", None)
        shape = tuple(frames[0].shape) if frames is not None else None
        if not checks.job(f"{job} direct", shape=shape, want_shape=want):
            raise RuntimeError("the direct call made no right clip")
        peaks_direct.append(_peak_gb())

        _reset_peak()
        _sync()
        t = time.perf_counter()
        stamps, result = [], None
        for ev in backend.generate(request):  # steps, LatentsReady, then the result
            if isinstance(ev, StepEvent):
                stamps.append(time.perf_counter())
            elif isinstance(ev, GenerationResult):
                result = ev
        _sync()
        shape = tuple(result.frames.shape) if result is not None else None
        if not checks.job(f"{job} app", shape=shape, want_shape=want):
            raise RuntimeError("the app made no right clip")
        if len(stamps) != request.steps:
            raise RuntimeError(f"the app reported {len(stamps)} steps of {request.steps}")
        app.append(time.perf_counter() - t)
        peaks_app.append(_peak_gb())
        if len(stamps) > 1:
            step_times.append(
                statistics.median(b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True))
            )
    med_direct, med_app = statistics.median(direct), statistics.median(app)
    s_step = statistics.median(step_times) if step_times else med_app / request.steps
    default_steps = int(backend.entry.defaults.get("steps", request.steps))
    fixed = max(0.0, med_app - s_step * request.steps)
    peak_d = [p for p in peaks_direct if p is not None]
    peak_a = [p for p in peaks_app if p is not None]
    return {
        "steps": request.steps,
        "s_per_step": round(s_step, 4),
        "s_per_clip_direct": round(med_direct, 3),
        "s_per_clip_app": round(med_app, 3),
        "app_overhead_s": round(med_app - med_direct, 3),
        "app_overhead_pct": round(100 * (med_app - med_direct) / med_direct, 1),
        "s_per_clip_default_steps": round(fixed + s_step * default_steps, 2),
        "default_steps": default_steps,
        "preview_calibration_s": round(calib, 3),
        "peak_vram_gb_direct": round(max(peak_d), 2) if peak_d else None,
        "peak_vram_gb_app": round(max(peak_a), 2) if peak_a else None,
        "runs_direct_s": [round(x, 3) for x in direct],
        "runs_app_s": [round(x, 3) for x in app],
    }


TINY_FAMILIES = ("wan", "ltx", "cogvideox")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random models on the CPU")
    ap.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="catalog ids (default: every catalog video model with a full-size config); "
        f"with --tiny, tiny families (default: {' '.join(TINY_FAMILIES)})",
    )
    ap.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="load this saved model folder (one --models entry: its catalog id, or with --tiny "
        "its family) instead of building random weights",
    )
    ap.add_argument("--modes", nargs="+", default=["fast", "balanced", "low_vram"])
    ap.add_argument("--steps", type=int, default=None, help="default: catalog default (tiny: 4)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", default=None, help="WxHxF, default: the catalog's default size")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (--tiny default: 1, so OpenMP spin-waits on a busy machine "
        "do not swamp the comparison; a main-thread call with 2 threads on 2 busy cores ran "
        "25x slower than the same call in a worker thread)",
    )
    ap.add_argument(
        "--check-configs",
        action="store_true",
        help="only build the full-size models on the meta device and print parameter counts",
    )
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats: at least 1")
    if args.model_dir is not None and (not args.models or len(args.models) != 1):
        ap.error("--model-dir: name the one model it holds with --models")
    info: dict[str, Any] = {"tiny": args.tiny}
    return benchlib.run("diffusers", lambda checks: _bench(args, checks, info), info)


def _bench(args: argparse.Namespace, checks: benchlib.Checks, info: dict[str, Any]) -> dict:
    import torch

    covered, not_covered = catalog_full_ids()  # ValueError when FULL names a retired id
    if not args.tiny:
        info["not_measured_no_full_size_config"] = not_covered
    models = args.models or (list(TINY_FAMILIES) if args.tiny else covered)
    if args.check_configs:
        counts = {}
        for model_id in models:
            if checks.check(model_id, model_id in FULL, "no full-size config in FULL"):
                counts[model_id] = count_params(model_id)
                print(model_id, json.dumps(counts[model_id]), file=sys.stderr)
        return {"params_b": counts}

    threads = args.threads or (1 if args.tiny else None)
    if threads:
        torch.set_num_threads(threads)

    from sora_desktop.core.catalog import CatalogEntry, find_entry
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.engine.diffusers_backend import DiffusersBackend

    cuda = torch.cuda.is_available()
    if not args.tiny and not cuda and args.model_dir is None:
        raise RuntimeError("no CUDA GPU: full-size models need one; --tiny is a CPU smoke run")
    device = "cuda" if cuda and not args.tiny else "cpu"
    info["device"] = (
        torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu"
    )
    results: dict[str, Any] = {
        "device": info["device"],
        "torch": torch.__version__,
        "tiny": args.tiny,
        "cpu_threads": torch.get_num_threads(),
        "cases": [],
    }
    for model in models:
        for mode in args.modes:
            job = f"{model} {mode}"
            gc.collect()
            backend = pipe = None
            with checks.guard(job):
                if args.tiny:
                    from tiny_models import tiny_entry

                    entry = CatalogEntry.from_dict(tiny_entry(model))
                else:
                    entry = find_entry(model)
                    if entry is None:
                        raise ValueError(f"{model} is not in the catalog")
                if args.model_dir is not None:  # the real loading path, from a saved folder
                    backend = DiffusersBackend(
                        entry, args.model_dir, device, mode, dtype="fp32" if args.tiny else "auto"
                    )
                else:
                    if args.tiny:
                        pipe = build_tiny(model)
                    else:
                        if model not in FULL:
                            raise ValueError("no full-size config in bench_diffusers.FULL")
                        # weights start on the GPU (fast init), offload modes move them to RAM
                        pipe = build_full(model, "cuda")
                        if mode != "fast":
                            pipe.to("cpu")
                    backend = DiffusersBackend(
                        entry, None, device, mode, dtype="fp32" if args.tiny else "auto",
                        pipeline=pipe,
                    )  # fmt: skip
                d = entry.defaults
                w, h, f = (int(v) for v in args.size.split("x")) if args.size else (
                    d["width"], d["height"], d["num_frames"])  # fmt: skip
                steps = args.steps or (4 if args.tiny else int(d["steps"]))
                req = GenerationRequest(
                    prompt="a red fox runs through a snowy forest at sunset, camera pans",
                    steps=steps, guidance=float(d["guidance"]), num_frames=f, width=w, height=h,
                    fps=int(d["fps"]), model_id=entry.id, seed=0,
                )  # fmt: skip
                case = {"model": entry.id, "memory_mode": mode, "size": f"{w}x{h}x{f}"}
                case.update(run_case(backend, req, args.repeats, checks, job))
                results["cases"].append(case)
                print(json.dumps(case), file=sys.stderr, flush=True)
            if backend is not None:
                backend.unload()
            del backend, pipe
            if cuda:
                torch.cuda.empty_cache()
    if not checks.ok:
        return {}
    print("\nmodel                  mode       size          s/step  s/clip(app) direct  "
          "overhead  peakVRAM")  # fmt: skip
    for c in results["cases"]:
        peak = c["peak_vram_gb_app"]
        print(
            f"{c['model']:22} {c['memory_mode']:10} {c['size']:13} {c['s_per_step']:7.3f} "
            f"{c['s_per_clip_app']:10.2f} {c['s_per_clip_direct']:7.2f} "
            f"{c['app_overhead_pct']:7.1f}%  {'n/a (CPU)' if peak is None else f'{peak:.1f} GB'}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return {"cases": results["cases"]}


if __name__ == "__main__":
    raise SystemExit(main())
