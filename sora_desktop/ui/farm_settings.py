"""Settings' "Render on: this computer | Ray cluster at [address]" with "Test connection"
(issue 18). The test runs in a thread (``studio.farm_probe``: a child process asks the
cluster), so the dialog stays live; it shows the machines and GPUs, or the plain reason."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from sora_desktop.core.farm_address import EXAMPLE, parse_ray_address

RENDER_LABELS = {"this computer": "This computer", "ray": "Ray cluster at…"}


class _Result(QObject):
    done = Signal(str)


class FarmSettingsBox(QGroupBox):
    """The "Render on" group; ``values()`` gives ``(render_on, ray_address)``."""

    def __init__(self, settings, parent: QWidget | None = None, probe=None) -> None:
        super().__init__("Render on", parent)
        self.render_on = QComboBox()
        for value, label in RENDER_LABELS.items():
            self.render_on.addItem(label, value)
        self.render_on.setCurrentIndex(max(0, self.render_on.findData(settings.render_on)))
        self.address = QLineEdit(settings.ray_address)
        self.address.setPlaceholderText(f"{EXAMPLE}, ray://host:10001 or local")
        self.address.setToolTip("The head node of a Ray cluster (see docs/render_farm.md)")
        self.test_button = QPushButton("Test connection")
        self.result = QLabel()
        self.result.setWordWrap(True)
        self._probe = probe
        self._signals = _Result(self)
        self._signals.done.connect(self._show)
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.address, 1)
        h.addWidget(self.test_button)
        form = QFormLayout(self)
        form.addRow("Render on", self.render_on)
        form.addRow("Cluster", row)
        form.addRow(self.result)
        self.render_on.currentIndexChanged.connect(self._enable)
        self.test_button.clicked.connect(self.test_connection)
        self._enable()

    def values(self) -> tuple[str, str]:
        return self.render_on.currentData(), self.address.text().strip()

    def _enable(self) -> None:
        on = self.render_on.currentData() == "ray"
        self.address.setEnabled(on)
        self.test_button.setEnabled(on)

    def test_connection(self) -> threading.Thread | None:
        """Ask the cluster in a thread; the answer shows under the address."""
        try:
            address = parse_ray_address(self.address.text(), "ray_address").text
        except ValueError as exc:
            self._show(getattr(exc, "message", str(exc)).capitalize())
            return None
        self.test_button.setEnabled(False)
        self.result.setText(f"Connecting to {address}…")
        thread = threading.Thread(target=self._run, args=(address,), daemon=True)
        thread.start()
        return thread

    def _run(self, address: str) -> None:  # not the GUI thread
        from sora_desktop.studio.farm_probe import ProbeError, probe

        try:
            text = (self._probe or probe)(address).summary()
        except ProbeError as exc:
            text = str(exc)
        except Exception as exc:  # noqa: BLE001 - the dialog shows it, never crashes
            text = f"The connection test failed: {exc}"
        try:
            self._signals.done.emit(text)
        except RuntimeError:  # the dialog was closed meanwhile
            pass

    def _show(self, text: str) -> None:
        self.result.setText(text)
        self._enable()
