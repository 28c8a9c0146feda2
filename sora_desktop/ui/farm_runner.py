"""Rendering on a Ray cluster from the app (issue 18): Settings' "Render on" decides which
runner the studio queue hands its takes to.

The farm runner (``studio.farm.LazyFarmRunner``: it connects on its own thread) reports from
any thread; ``FarmBridge`` turns each report into a queued Qt signal, so ``apply_event`` runs
on the GUI thread, and a preview frame goes to the viewer as the worker thread's do. The GUI
process imports no torch for this: the model runs on the cluster's machines.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Qt, Signal

from sora_desktop.core.farm_address import parse_ray_address
from sora_desktop.studio.farm import LazyFarmRunner
from sora_desktop.studio.take_runner import TakeEvent, TakePreview, apply_event

log = logging.getLogger(__name__)


class FarmBridge(QObject):
    """Runner reports (any thread) → the queue view-model (GUI thread)."""

    arrived = Signal(object)

    def __init__(self, queue_vm) -> None:
        super().__init__(queue_vm)
        self.queue_vm = queue_vm
        self.arrived.connect(self._apply, Qt.ConnectionType.QueuedConnection)

    def emit_event(self, event: TakeEvent) -> None:  # any thread
        if isinstance(event, TakePreview):  # made a QImage off the GUI thread, as the worker
            from sora_desktop.ui.images import frame_to_qimage

            event = TakePreview(event.job_id, frame_to_qimage(event.frame))
        self.arrived.emit(event)

    def _apply(self, event: TakeEvent) -> None:
        if isinstance(event, TakePreview):
            self.queue_vm._on_preview(event.job_id, event.frame)
        else:
            apply_event(self.queue_vm.studio, event)


class RenderTarget:
    """Keeps the queue's runner in line with the settings: this computer's worker, or the
    farm at ``settings.ray_address``. A change waits until the queue is idle (running shots
    finish where they started)."""

    def __init__(self, queue_vm, settings, factory=None) -> None:
        self.queue_vm = queue_vm
        self.local_runner = queue_vm.studio.runner
        self.bridge = FarmBridge(queue_vm)
        self.factory = factory  # tests: a make_farm_runner replacement
        self.farm: LazyFarmRunner | None = None
        self._wanted: str | None = None
        queue_vm.busy_changed.connect(lambda busy: busy or self._switch())
        self.apply(settings)

    @property
    def address(self) -> str | None:
        return self.farm.address if self.farm is not None else None

    def apply(self, settings) -> None:
        on_farm = settings.render_on == "ray"  # the settings validated the address
        self._wanted = parse_ray_address(settings.ray_address).text if on_farm else None
        if not self.queue_vm.busy:
            self._switch()

    def _switch(self) -> None:
        if self._wanted == self.address:
            return
        old, self.farm = self.farm, None
        if self._wanted is not None:
            self.farm = LazyFarmRunner(self._wanted, self.bridge.emit_event, factory=self.factory)
            log.info("rendering on the Ray cluster at %s", self._wanted)
        self.queue_vm.studio.runner = self.farm or self.local_runner
        if old is not None:  # idle: nothing of the user's runs there
            threading.Thread(target=old.close, name="farm-close", daemon=True).start()

    def close(self, timeout: float = 30.0) -> None:
        if self.farm is not None:
            self.farm.close(timeout)
