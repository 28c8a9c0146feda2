"""The render farm in the app (issue 18): Settings' "Render on" (validated, saved), its
"Test connection" (a bad address: the plain reason, the dialog stays live), and the main
window rendering through a farm runner whose reports come from another thread: the shot ends
done, the queue row names the machine, a farm that cannot be reached fails the shot plainly
and the app keeps working."""

from __future__ import annotations

import dataclasses
import socket
import time

import pytest

from sora_desktop.core.errors import FieldError
from sora_desktop.core.settings import Settings, load_settings, save_settings
from sora_desktop.studio.runners import LocalRunner
from tests.ui_support import (
    close_window,
    model_window,  # noqa: F401 (the window fixture)
    set_fields,
    unload_models_after_module,  # noqa: F401
    use_micro_model,
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "address", ["", "http://head:6379", "head:port", "head:70000", "two words:1", "ray://"]
)
def test_render_on_a_cluster_needs_a_real_address(address):
    with pytest.raises(FieldError) as err:
        Settings(render_on="ray", ray_address=address)
    assert err.value.field == "ray_address"


def test_the_render_choice_is_saved_and_read_back(tmp_path):
    path = tmp_path / "settings.json"
    save_settings(Settings(render_on="ray", ray_address=" 10.0.0.5:6379 "), path)
    loaded = load_settings(path)
    assert (loaded.render_on, loaded.ray_address.strip()) == ("ray", "10.0.0.5:6379")
    with pytest.raises(FieldError):
        Settings(render_on="the moon")


def test_settings_dialog_names_a_bad_cluster_address(qtbot):
    from sora_desktop.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    farm = dialog.farm
    assert not farm.address.isEnabled()  # this computer: no address to type
    farm.render_on.setCurrentIndex(farm.render_on.findData("ray"))
    assert farm.address.isEnabled() and farm.test_button.isEnabled()
    farm.address.setText("http://head")
    dialog.accept()
    assert dialog.result_settings is None
    assert dialog.error.text().startswith("Ray cluster:")
    farm.address.setText("head.studio.lan")
    dialog.accept()
    assert dialog.result_settings.render_on == "ray"
    assert dialog.result_settings.ray_address == "head.studio.lan"


def test_test_connection_to_nothing_says_so_plainly(qtbot):
    """The real probe (a child process with Ray) against a port where nothing listens."""
    pytest.importorskip("ray")
    from sora_desktop.ui.farm_settings import FarmSettingsBox

    port = closed_port()
    box = FarmSettingsBox(Settings(render_on="ray", ray_address=f"127.0.0.1:{port}"))
    qtbot.addWidget(box)
    box.test_connection()
    assert not box.test_button.isEnabled()  # one test at a time; the dialog stays live
    qtbot.waitUntil(lambda: box.test_button.isEnabled(), timeout=90_000)
    text = box.result.text()
    assert text.startswith(f"Could not reach a Ray cluster at 127.0.0.1:{port}"), text
    assert "ray start --head" in text and "Traceback" not in text


def test_test_connection_shows_the_machines(qtbot):
    from sora_desktop.studio.farm_probe import ClusterInfo
    from sora_desktop.ui.farm_settings import FarmSettingsBox

    info = ClusterInfo(["gpu-a", "gpu-b"], 64, 4)
    box = FarmSettingsBox(Settings(render_on="ray", ray_address="head:6379"), probe=lambda a: info)
    qtbot.addWidget(box)
    box.test_connection()
    qtbot.waitUntil(lambda: box.test_button.isEnabled(), timeout=10_000)
    assert box.result.text() == "Connected: 2 machines (gpu-a, gpu-b), 4 GPUs, 64 CPU cores."


def test_the_window_renders_on_the_farm_and_shows_the_machine(qtbot, window):
    """Settings → Ray cluster: the queue's takes go to the farm runner; its reports come from
    its own threads and land on the GUI thread; the row names the machine."""
    made = []

    def farm_factory(address, emit, workers=None):  # stands in for make_farm_runner
        made.append(address)
        return LocalRunner(emit, host="render-node-7")

    window.render_target.factory = farm_factory
    window.apply_settings(dataclasses.replace(window.settings, render_on="ray", ray_address="head"))
    set_fields(window, prompt="a red ball on the farm", steps=2)
    with qtbot.waitSignal(window.queue_vm.job_finished, timeout=60_000) as done:
        window.act_generate.trigger()
    job_id, clip = done.args
    assert made == ["head:6379"]
    assert window.queue_vm.studio.hosts[job_id] == "render-node-7"
    row = window.queue_panel.rows[job_id] if hasattr(window.queue_panel, "rows") else None
    from sora_desktop.ui.queue_panel import describe

    assert describe(window.queue_vm, window.queue_vm.job(job_id)).endswith("on render-node-7")
    if row is not None:
        assert "render-node-7" in row.detail.text()
    assert window.project_vm.selected.selected.status == "done"
    # back to this computer: the next shot runs here, with no machine named
    window.apply_settings(dataclasses.replace(window.settings, render_on="this computer"))
    with qtbot.waitSignal(window.queue_vm.job_finished, timeout=60_000) as done:
        window.act_generate.trigger()
    assert done.args[0] not in window.queue_vm.studio.hosts


def test_a_farm_that_cannot_be_reached_fails_the_shot_plainly(
    qtbot, monkeypatch, micro_model_dir, tmp_path
):
    """The app's start-up path: settings.json says Ray cluster; the window's queue renders
    there; nothing answers, so the shot fails with the reason and the app keeps working."""
    pytest.importorskip("ray")
    from sora_desktop.core.autosave import Autosaver
    from sora_desktop.ui.main_window import MainWindow

    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    address = f"127.0.0.1:{closed_port()}"
    saved = Settings(
        output_dir=str(tmp_path / "exports"),
        models_dir=str(tmp_path / "models"),
        autosave_seconds=0,
        render_on="ray",
        ray_address=address,
    )
    save_settings(saved)  # where the app reads it (SORA_DESKTOP_HOME)
    window = MainWindow(load_settings(), autosaver=Autosaver(tmp_path / "rec"), warm_up=False)
    window.place_file = None
    window.ask = lambda *a, **k: pytest.fail("unexpected question")
    window.show()
    try:
        assert window.queue_vm.studio.runner is window.render_target.farm
        set_fields(window, prompt="a shot for a missing farm", steps=2)
        with qtbot.waitSignal(window.queue_vm.job_failed, timeout=60_000) as failed:
            window.act_generate.trigger()
        message = failed.args[1]
        assert message.startswith(f"Could not reach a Ray cluster at {address}")
        assert "Render on: this computer" in message
        assert window.project_vm.selected.takes[-1].status == "failed"
        assert window.isVisible()  # the app keeps working
    finally:
        close_window(window)


def test_the_farm_modules_import_neither_torch_nor_ray():
    """The GUI process stays light: the model runs on the cluster, Ray loads when used."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import sora_desktop.ui.farm_runner, sora_desktop.ui.farm_settings\n"
        "import sora_desktop.studio.farm, sora_desktop.studio.farm_probe\n"
        "print(sorted(m for m in ('torch', 'ray', 'diffusers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


def test_takes_wait_for_the_connection_and_cancel_reaches_them_meanwhile(tmp_path):
    """LazyFarmRunner: the caller never waits for Ray; a take cancelled before the farm is
    connected ends at once, the others go to the farm once it is."""
    import threading

    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.studio.farm import FarmError, LazyFarmRunner
    from sora_desktop.studio.queue import TakeRun
    from sora_desktop.studio.take_runner import TakeCancelled, TakeFailed

    release = threading.Event()
    submitted: list[str] = []

    class Inner:
        def submit(self, run):
            submitted.append(run.job_id)

        def cancel(self, job_id):
            pass

        def close(self, timeout=60.0):
            pass

    def slow_factory(address, emit, workers=None):
        release.wait(30)
        return Inner()

    events: list = []
    runs = [TakeRun(f"j{i}", GenerationRequest("x", steps=1), tmp_path, f"s{i}") for i in range(3)]
    lazy = LazyFarmRunner("head:6379", events.append, factory=slow_factory)
    for run in runs:
        lazy.submit(run)  # returns at once
    lazy.cancel("j1")
    assert [type(e) for e in events] == [TakeCancelled] and events[0].job_id == "j1"
    release.set()
    deadline = time.monotonic() + 10
    while len(submitted) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert submitted == ["j0", "j2"]
    lazy.submit(TakeRun("j3", GenerationRequest("x", steps=1), tmp_path, "s3"))
    assert submitted[-1] == "j3"
    assert lazy._thread.is_alive()  # the thread that connected lives as long as the farm
    lazy.close()
    assert not lazy._thread.is_alive()

    def refusing(address, emit, workers=None):
        raise FarmError("Could not reach a Ray cluster at head:6379 (Connection refused).")

    events.clear()
    lazy = LazyFarmRunner("head:6379", events.append, factory=refusing)
    lazy.submit(runs[0])
    lazy._thread.join(10)
    lazy.submit(runs[2])  # after the failure: at once, with the same reason
    assert [type(e) for e in events] == [TakeFailed, TakeFailed]
    assert all(e.message.startswith("Could not reach a Ray cluster") for e in events)
