"""The application's use cases, between the engine and the front ends (the Qt UI, the CLI).

Qt-free, and torch-free at import (engine modules that pull torch are imported inside the
functions that run a job). Layers: core <- engine <- studio <- ui and cli.

- ``studio.queue``: generate a shot, its variations, every shot; cancel; the runner's reports.
- ``studio.shots``: the prompt policy, the memory pre-flight, continuation from the previous
  shot.
- ``studio.takes``: the picked-take rules and where a finished clip goes in the project.
- ``studio.media``: a take's files (clip, thumbnail, last frame).
- ``studio.film``: exporting one shot or the whole storyboard.
- ``studio.decode``: latents saved before the VAE decode, "Retry in low memory", the latents
  file (read as hostile); ``studio.audio``: a take's sound as a WAV side file.
"""

from sora_desktop.studio.shots import PolicyBlocked, QueueError, check_fits, check_policy

__all__ = ["PolicyBlocked", "QueueError", "check_fits", "check_policy"]
