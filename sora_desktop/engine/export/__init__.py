"""Export clips to MP4 (H.264), WebM (VP9), GIF or a folder of PNG frames, with their settings.

The package splits along the seams of the job; this module keeps every name importable from
``sora_desktop.engine.export`` as before:

- ``frames``: frame operations (upscale, the visible AI label, even sizes, joining shots);
- ``encode``: ``export_video`` and the writers (ffmpeg for MP4/WebM/GIF, a PNG-frames folder);
- ``ffmpeg``: the bundled ffmpeg binary, its failure messages, the tags it reads back;
- ``metadata``: the embedded metadata and sidecar, ``read_metadata``, ``request_from_file``.

Decoding lives in ``engine/decode.py`` and the export files' bookkeeping in
``engine/export_files.py``; their names are re-exported here too (their old home).
"""

from __future__ import annotations

# the modules tests reach through this package (``export.cv2``, ``export.subprocess``, ...)
import subprocess  # noqa: F401
import tempfile  # noqa: F401

import cv2  # noqa: F401

from sora_desktop.core.export_settings import (  # noqa: F401 - as the old module had them
    EXPORT_FORMATS,
    MAX_UPSCALE,
    QUALITIES,
    SUFFIX_FORMATS,
    UPSCALE_METHODS,
)
from sora_desktop.core.request import GenerationRequest  # noqa: F401
from sora_desktop.engine.backend import CancelToken  # noqa: F401
from sora_desktop.engine.decode import (  # noqa: F401 - the decoders' old home, kept importable
    DEFAULT_DECODE_BUDGET,
    MAX_VIDEO_FRAMES,
    MAX_VIDEO_SIDE,
    VideoInfo,
    iter_video,
    probe_video,
    read_image,
    read_video,
)
from sora_desktop.engine.export import encode, ffmpeg, frames, metadata  # noqa: F401
from sora_desktop.engine.export.encode import (  # noqa: F401
    CRF,
    FORMATS,
    ProgressFn,
    _codec_args,
    _export_ffmpeg,
    _export_png,
    _run_ffmpeg,
    check_writable_folder,
    export_video,
    format_for_path,
    output_path_for,
)
from sora_desktop.engine.export.ffmpeg import (  # noqa: F401
    _container_comments,
    _explain_ffmpeg_failure,
    _ffmpeg_exe,
)
from sora_desktop.engine.export.frames import (  # noqa: F401
    INTERPOLATION,
    WATERMARK_TEXT,
    _check_frames,
    _pad_even,
    add_watermark,
    concat_clips,
    upscale_frames,
)
from sora_desktop.engine.export.metadata import (  # noqa: F401
    METADATA_KEY,
    SOFTWARE,
    _gif_add_comment,
    _gif_blocks,
    _gif_comments,
    _parse_meta_text,
    build_metadata,
    read_metadata,
    request_from_file,
    sidecar_path,
)
from sora_desktop.engine.export_files import (  # noqa: F401
    ExportError,
    _is_empty_dir,
    _track,
    _untrack,
    frames_folder_for,
    refuse_special_file,
)
