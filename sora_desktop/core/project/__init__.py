"""Projects, shots and takes, and the versioned ``.sdproj`` file that holds them.

- ``model.py``: the data (``Project``, ``Shot``, ``Take``) and the rules each change keeps;
- ``audio.py``: the soundtrack's items (``AudioItem``, ``MusicRequest``, the fade law);
- ``format.py``: the file layout, the checks on file data and the migration of older layouts;
- ``storage.py``: load and save (atomic, with a ``.bak`` backup), the media folder and clip paths.

Other modules import from here (``from sora_desktop.core.project import ...``), so every name the
single-file module had is re-exported below, private ones included (engine/hub_listing.py and
the tests use some).
"""

from sora_desktop.core.export_settings import (  # noqa: F401 - names kept for importers
    DEFAULT_PROJECT_SETTINGS,
    EXPORT_FORMATS,
    UPSCALE_METHODS,
    ExportSettings,
)
from sora_desktop.core.project.audio import (  # noqa: F401
    AUDIO_KINDS,
    MAX_AUDIO_ITEMS,
    MAX_AUDIO_SECONDS,
    MAX_VOLUME_DB,
    MIN_VOLUME_DB,
    AudioItem,
    MusicRequest,
    fade_gain,
)
from sora_desktop.core.project.format import (  # noqa: F401
    _MIGRATIONS,
    BACKUP_SUFFIX,
    MAX_JSON_DEPTH,
    MAX_PROJECT_BYTES,
    MAX_TOTAL_TAKES,
    PROJECT_SUFFIX,
    _check_depth,
    _check_id,
    _damaged,
    _migrate_v0_to_v1,
    _migrate_v1_to_v2,
    _parse_audio,
    _parse_project,
    _parse_request,
    _parse_settings,
    _parse_shot,
    _parse_take,
    _parse_text,
    _parse_v1,
    project_from_dict,
    validate_project_settings,
)
from sora_desktop.core.project.model import (  # noqa: F401
    _ID_RE,
    MAX_PATH_CHARS,
    MAX_SHOTS,
    MAX_TAKES_PER_SHOT,
    MAX_TEXT_CHARS,
    PROJECT_FORMAT,
    PROJECT_VERSION,
    TAKE_STATUSES,
    Project,
    ProjectError,
    Shot,
    ShotStatus,
    Take,
    TakeStatus,
    _check_relpath,
    _check_take_fields,
    _check_text,
    _short,
    new_id,
    now_iso,
)
from sora_desktop.core.project.storage import (  # noqa: F401
    AUDIO_FOLDER,
    INTERRUPTED_MESSAGE,
    STALE_TEMP_S,
    _backup_hint,
    _is_good_project,
    _newer_version_on_disk,
    _note_unusable_media,
    _reject_constant,
    _remove_stale_temp_files,
    audio_relpath,
    clip_relpath,
    load_project,
    mark_interrupted_takes,
    media_dir,
    new_project,
    project_folder,
    read_project_file,
    relative_media,
    resolve_media,
    save_project,
)
