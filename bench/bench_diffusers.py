"""Benchmark the open-weight video backends: seconds per step and per clip, peak GPU memory per
memory mode, and the app's overhead over calling the diffusers pipeline directly.

Full-size architectures (Wan 2.1 1.3B, LTX-Video 2B, CogVideoX 2B) are built with *random
weights* from the real configs written below, so nothing is downloaded; speed and memory do not
depend on the weight values. Text encoders are the real sizes too (UMT5-XXL, T5-v1.1-XXL).

    python bench/bench_diffusers.py                       # full size, needs a CUDA GPU
    python bench/bench_diffusers.py --tiny                # tiny models on the CPU (smoke run)
    python bench/bench_diffusers.py --models wan --modes fast balanced --steps 10 --repeats 3

For every model and memory mode the same loaded pipeline is timed twice per repeat: called
directly (``pipe(...)``) and through the app (``DiffusersBackend.generate``: worker thread, step
events, live previews, uint8 conversion). Reported figures are medians over ``--repeats``.
``s_per_clip_default_steps`` extrapolates to the catalog's default step count from the measured
run (fixed part + steps x s/step) when ``--steps`` is lower than the default.
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

FULL = {
    "wan": dict(
        catalog_id="wan2.1-t2v-1.3b",
        dtype="bf16",
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
        ),  # fmt: skip
        vae=dict(
            base_dim=96,
            z_dim=16,
            dim_mult=[1, 2, 4, 4],
            num_res_blocks=2,
            temperal_downsample=[False, True, True],
        ),  # fmt: skip
        text=("umt5", UMT5_XXL),
    ),
    "ltx": dict(
        catalog_id="ltx-video-2b",
        dtype="bf16",
        transformer=dict(
            in_channels=128,
            out_channels=128,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=32,
            attention_head_dim=64,
            cross_attention_dim=2048,
            num_layers=28,
            caption_channels=4096,
        ),  # fmt: skip
        vae=dict(),  # AutoencoderKLLTXVideo defaults are the 0.9.0 VAE
        text=("t5", T5_V11_XXL),
    ),
    "cogvideox": dict(
        catalog_id="cogvideox-2b",
        dtype="fp16",
        transformer=dict(
            num_attention_heads=30,
            attention_head_dim=64,
            in_channels=16,
            out_channels=16,
            text_embed_dim=4096,
            num_layers=30,
            sample_width=90,
            sample_height=60,
            sample_frames=49,
            patch_size=2,
            temporal_compression_ratio=4,
            max_text_seq_length=226,
            time_embed_dim=512,
        ),  # fmt: skip
        vae=dict(scaling_factor=1.15258426),
        text=("t5", T5_V11_XXL),
    ),
}


def _dtype(name: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def _tokenizer():
    from tiny_models import word_tokenizer

    return word_tokenizer(model_max_length=512)


def build_full(family: str, device: str):
    """A full-size random-weight pipeline of ``family``, weights created on ``device``."""
    import diffusers as D
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    spec = FULL[family]
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
            if family == "wan":
                tr = D.WanTransformer3DModel(**spec["transformer"])
            elif family == "ltx":
                tr = D.LTXVideoTransformer3DModel(**spec["transformer"])
                vae = D.AutoencoderKLLTXVideo(**spec["vae"])
            else:
                tr = D.CogVideoXTransformer3DModel(**spec["transformer"])
                vae = D.AutoencoderKLCogVideoX(**spec["vae"])
    finally:
        torch.set_default_dtype(prev)
    # Outside the dtype/device context: schedulers keep float32 tables on the CPU, and the Wan
    # VAE runs in float32 as the Wan docs recommend.
    if family == "wan":
        with torch.device(device):
            vae = D.AutoencoderKLWan(**spec["vae"])
        sched = D.UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        )
        pipe = D.WanPipeline(
            tokenizer=_tokenizer(), text_encoder=text, vae=vae, scheduler=sched, transformer=tr
        )
    elif family == "ltx":
        pipe = D.LTXPipeline(
            scheduler=D.FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text,
            tokenizer=_tokenizer(), transformer=tr,
        )  # fmt: skip
    else:
        sched = D.CogVideoXDDIMScheduler(
            beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
            prediction_type="v_prediction", rescale_betas_zero_snr=True, snr_shift_scale=3.0,
            timestep_spacing="trailing", clip_sample=False, set_alpha_to_one=True, steps_offset=0,
        )  # fmt: skip
        pipe = D.CogVideoXPipeline(
            tokenizer=_tokenizer(), text_encoder=text, vae=vae, transformer=tr, scheduler=sched
        )
    for m in (pipe.transformer, pipe.vae, pipe.text_encoder):
        m.eval().requires_grad_(False)
    return pipe


def count_params(family: str) -> dict[str, float]:
    """Billions of parameters per component, built on the meta device (no memory, no GPU)."""
    pipe = build_full(family, "meta")
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


def run_case(backend, request, repeats: int) -> dict[str, Any]:
    """Time the same request directly and through the app; medians over ``repeats``."""
    from sora_desktop.engine.backend import GenerationResult, StepEvent

    pipe = backend.pipe
    t = time.perf_counter()
    backend.preview_factors()
    calib = time.perf_counter() - t
    kwargs = backend._call_kwargs(request, pipe)
    kwargs["output_type"] = "np"  # the direct call decodes too (the app decodes after latents)
    direct, app, step_times, peaks_direct, peaks_app = [], [], [], [], []
    for _ in range(repeats):
        kwargs["generator"] = kwargs["generator"].manual_seed(request.seed)
        _reset_peak()
        _sync()
        t = time.perf_counter()
        pipe(**kwargs)
        _sync()
        direct.append(time.perf_counter() - t)
        peaks_direct.append(_peak_gb())

        _reset_peak()
        _sync()
        t = time.perf_counter()
        stamps = []
        for ev in backend.generate(request):  # steps, LatentsReady, then the result
            if isinstance(ev, StepEvent):
                stamps.append(time.perf_counter())
            elif isinstance(ev, GenerationResult):
                assert ev.frames.shape[0] == request.num_frames
        _sync()
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random models on the CPU")
    ap.add_argument("--models", nargs="+", default=["wan", "ltx", "cogvideox"])
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

    import torch

    if args.check_configs:
        for family in args.models:
            print(family, json.dumps(count_params(family)))
        return 0

    threads = args.threads or (1 if args.tiny else None)
    if threads:
        torch.set_num_threads(threads)

    from sora_desktop.core.catalog import CatalogEntry, load_catalog
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.engine.diffusers_backend import DiffusersBackend

    cuda = torch.cuda.is_available()
    if not args.tiny and not cuda:
        print("No CUDA GPU: full-size models need one. Use --tiny for a CPU smoke run.")
        return 2
    device = "cuda" if cuda and not args.tiny else "cpu"
    catalog = {e.id: e for e in load_catalog()}
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name()
        if device == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "tiny": args.tiny,
        "cpu_threads": torch.get_num_threads(),
        "cases": [],
    }
    for family in args.models:
        for mode in args.modes:
            gc.collect()
            if args.tiny:
                from tiny_models import tiny_entry

                entry = CatalogEntry.from_dict(tiny_entry(family))
                pipe = build_tiny(family)
            else:
                entry = catalog[FULL[family]["catalog_id"]]
                # weights start on the GPU (fast init), offload modes then move them to RAM
                pipe = build_full(family, "cuda")
                if mode != "fast":
                    pipe.to("cpu")
            backend = DiffusersBackend(
                entry, None, device, mode, dtype="fp32" if args.tiny else "auto", pipeline=pipe
            )
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
            try:
                case.update(run_case(backend, req, args.repeats))
            except Exception as exc:  # e.g. OOM in fast mode: record it, go on
                case["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            results["cases"].append(case)
            print(json.dumps(case), flush=True)
            backend.unload()
            del backend, pipe
            if cuda:
                torch.cuda.empty_cache()
    print("\nmodel                  mode       size          s/step  s/clip(app) direct  "
          "overhead  peakVRAM")  # fmt: skip
    for c in results["cases"]:
        if "error" in c:
            print(f"{c['model']:22} {c['memory_mode']:10} {c['size']:13} {c['error']}")
            continue
        peak = c["peak_vram_gb_app"]
        print(
            f"{c['model']:22} {c['memory_mode']:10} {c['size']:13} {c['s_per_step']:7.3f} "
            f"{c['s_per_clip_app']:10.2f} {c['s_per_clip_direct']:7.2f} "
            f"{c['app_overhead_pct']:7.1f}%  {'n/a (CPU)' if peak is None else f'{peak:.1f} GB'}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
