"""A hostile hub or mirror, and slow or stalled links, against the real downloader.

Every case runs over a real socket to the fake hub on 127.0.0.1, with the downloader's real
chunk sizes (nothing is shrunk for the tests): hub-supplied names, hashes, sizes and commits that
would reach a path; bodies longer than declared or inflating past it; cancel and progress on a
1 Mbit/s link and on a stalled one; an import folder holding a pipe.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from fakehub import FakeHub, FileFaults

from sora_desktop.core.catalog import is_installed, load_catalog
from sora_desktop.engine import downloads as dl

WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"
MBIT = 125_000  # bytes per second of a 1 Mbit/s link


@pytest.fixture
def online(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def entry():
    return next(e for e in load_catalog() if e.id == "wan2.1-t2v-1.3b")


@pytest.fixture
def hub():
    with FakeHub() as h:
        yield h


def repo_files(weights_bytes: int = 200_000) -> dict[str, bytes]:
    rnd = __import__("random").Random(7)
    return {
        "model_index.json": b'{"_class_name": "WanPipeline"}',
        "vae/config.json": b'{"z_dim": 16}',
        "vae/diffusion_pytorch_model.safetensors": rnd.randbytes(20_000),
        "transformer/config.json": b'{"num_layers": 2}',
        WEIGHTS: rnd.randbytes(weights_bytes),
    }


def files_under(root) -> dict[str, int]:
    return {
        os.path.relpath(os.path.join(d, f), root): os.lstat(os.path.join(d, f)).st_size
        for d, _dirs, names in os.walk(root)
        for f in names
    }


# ---------------------------------------------------------------------------- hub-supplied paths
@pytest.mark.parametrize(
    "patch",
    [
        {"lfs": {"sha256": "../../../thesis-draft"}},
        {"blobId": "../../../thesis-draft"},
    ],
    ids=["lfs-sha256", "blobId"],
)
def test_a_hash_that_is_a_path_never_writes_or_deletes_outside(tmp_path, online, hub, entry, patch):
    """The hash names the part file: '../../../thesis-draft' would be <models>/../thesis-draft."""
    files = repo_files()
    name = WEIGHTS if "lfs" in patch else "vae/config.json"
    repo = hub.add_repo(entry.repo_id, files)
    repo.listing_patch[name] = patch
    models = tmp_path / "home" / "models"
    victim = tmp_path / "home" / "thesis-draft.part"  # bigger than the file: today it is deleted
    victim.parent.mkdir(parents=True)
    victim.write_bytes(b"my thesis " * 100_000)
    before = files_under(tmp_path)

    with pytest.raises(dl.DownloadError, match="not a (SHA-256|git blob id)"):
        dl.ModelDownloader(models, dl.HubConfig(endpoint=hub.endpoint)).download(entry)

    assert victim.read_bytes() == b"my thesis " * 100_000
    after = files_under(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("home/models")} == before
    assert not any("/resolve/" in r["path"] for r in hub.requests)  # refused before any data
    assert not is_installed(entry, models)


@pytest.mark.parametrize(
    "name",
    [
        "tokenizer/../../../escape.json",
        "tokenizer/a\\..\\..\\escape.json",
        "tokenizer/C:/escape.json",
        "tokenizer/bad\x00name",
        "tokenizer/bad\ud800name",
        "tokenizer/bad\x01name",
        "tokenizer/" + "x" * 300,
    ],
    ids=["dotdot", "backslash", "drive", "nul", "surrogate", "control", "too-long"],
)
def test_hub_file_names_pass_the_project_path_checks(tmp_path, online, hub, entry, name):
    repo = hub.add_repo(entry.repo_id, repo_files())
    repo.extra_siblings.append({"rfilename": name, "size": 3, "blobId": "a" * 40})
    with pytest.raises(dl.DownloadError, match="file name|outside the model folder"):
        dl.ModelDownloader(tmp_path / "m", dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert not (tmp_path / "escape.json").exists()
    assert not any("/resolve/" in r["path"] for r in hub.requests)


@pytest.mark.parametrize("size", [-1, "12", 1.5, True, None, 2**62], ids=repr)
def test_a_bad_size_is_a_download_error(tmp_path, online, hub, entry, size):
    repo = hub.add_repo(entry.repo_id, repo_files())
    repo.listing_patch["vae/config.json"] = {"size": size}
    with pytest.raises(dl.DownloadError, match="size"):
        dl.ModelDownloader(tmp_path / "m", dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert not any("/resolve/" in r["path"] for r in hub.requests)


@pytest.mark.parametrize(
    "extra",
    ["vae/config.json/inner.json", "vae/CONFIG.json", "vae/config.json"],
    ids=["file-and-folder", "case", "duplicate"],
)
def test_clashing_names_are_a_download_error(tmp_path, online, hub, entry, extra):
    repo = hub.add_repo(entry.repo_id, repo_files())
    repo.extra_siblings.append({"rfilename": extra, "size": 2, "blobId": "b" * 40})
    with pytest.raises(dl.DownloadError, match="both"):
        dl.ModelDownloader(tmp_path / "m", dl.HubConfig(endpoint=hub.endpoint)).download(entry)


def test_malformed_listing_entries_are_a_download_error(tmp_path, online, hub, entry):
    repo = hub.add_repo(entry.repo_id, repo_files())
    repo.extra_siblings.append(["not", "an", "object"])
    with pytest.raises(dl.DownloadError, match="sent a broken list of files") as info:
        dl.ModelDownloader(tmp_path / "m", dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert "Error" not in str(info.value)  # no exception class name for the user


def test_a_commit_that_is_not_a_commit_id_is_refused(tmp_path, online, hub, entry):
    hub.add_repo(entry.repo_id, repo_files(), commit="../../../../etc")
    with pytest.raises(dl.DownloadError, match="commit id"):
        dl.ModelDownloader(tmp_path / "m", dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert not any("/resolve/" in r["path"] for r in hub.requests)


# ---------------------------------------------------------------------------- declared size
def _no_file_bigger_than_declared(models, files) -> None:
    biggest = max(len(v) for v in files.values())
    assert all(size <= biggest for size in files_under(models).values())


def test_a_body_longer_than_declared_stops_at_the_declared_size(tmp_path, online, hub, entry):
    files = repo_files()
    repo = hub.add_repo(entry.repo_id, files)
    repo.faults[WEIGHTS] = FileFaults(extra_bytes=3_000_000)
    models = tmp_path / "m"
    with pytest.raises(dl.DownloadError, match="more than the 200,000 bytes it declared"):
        dl.ModelDownloader(models, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    _no_file_bigger_than_declared(models, files)
    assert not (entry.folder(models) / WEIGHTS).exists()
    assert not is_installed(entry, models)


def test_a_gzip_body_inflating_past_the_declared_size_is_stopped(tmp_path, online, hub, entry):
    import tracemalloc

    files = repo_files()
    repo = hub.add_repo(entry.repo_id, files)
    repo.faults[WEIGHTS] = FileFaults(gzip_bomb=300_000_000)  # ~300 KB on the wire
    models = tmp_path / "m"
    tracemalloc.start()
    try:
        with pytest.raises(dl.DownloadError, match="more than the 200,000 bytes it declared"):
            dl.ModelDownloader(models, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _no_file_bigger_than_declared(models, files)
    assert peak < 32 * 2**20  # inflated in small pieces, never 300 MB at once
    assert not is_installed(entry, models)


def test_a_gzip_body_of_the_declared_size_is_accepted(tmp_path, online, hub, entry):
    files = repo_files()
    repo = hub.add_repo(entry.repo_id, files)
    repo.faults["vae/config.json"] = FileFaults(gzip_bomb=0)
    folder = dl.ModelDownloader(tmp_path / "m", dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert (folder / WEIGHTS).read_bytes() == files[WEIGHTS]


# ---------------------------------------------------------------------------- slow and stalled
class _Run:
    """A download in a thread, with its progress reports and when it ended."""

    def __init__(self, downloader: dl.ModelDownloader, entry) -> None:
        self.cancel = threading.Event()
        self.reports: list[tuple[float, dl.DownloadProgress]] = []
        self.error: BaseException | None = None
        self.ended: float | None = None
        self.thread = threading.Thread(target=self._go, args=(downloader, entry), daemon=True)
        self.thread.start()

    def _go(self, downloader, entry) -> None:
        try:
            downloader.download(entry, self.reports_append, self.cancel)
        except BaseException as exc:  # noqa: BLE001 - checked by the test
            self.error = exc
        self.ended = time.monotonic()

    def reports_append(self, p: dl.DownloadProgress) -> None:
        self.reports.append((time.monotonic(), p))

    def wait_for(self, pred, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(pred(p) for _t, p in list(self.reports)):
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> float:
        """Cancel; the seconds it took the download to return."""
        t0 = time.monotonic()
        self.cancel.set()
        self.thread.join(10)
        assert not self.thread.is_alive(), "the download did not return after cancel"
        return self.ended - t0


def test_progress_and_cancel_react_within_a_second_on_a_1_mbit_link(tmp_path, online, hub, entry):
    """3 MB at 1 Mbit/s is 24 s: progress must flow while it arrives, cancel must be prompt."""
    files = repo_files(weights_bytes=3_000_000)
    repo = hub.add_repo(entry.repo_id, files)
    repo.faults[WEIGHTS] = FileFaults(rate_bps=MBIT)
    run = _Run(dl.ModelDownloader(tmp_path / "m", dl.HubConfig(endpoint=hub.endpoint)), entry)
    try:
        assert run.wait_for(lambda p: p.file == WEIGHTS and p.phase == "download", 10)
        t_first = next(t for t, p in run.reports if p.file == WEIGHTS)
        assert run.wait_for(lambda p: p.file == WEIGHTS and p.done_bytes > 450_000, 5), (
            "no byte progress within seconds on a 1 Mbit/s link"
        )
        times = [t for t, p in run.reports if p.file == WEIGHTS and t >= t_first]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert max(gaps) < 1.0, f"progress paused for {max(gaps):.1f} s"
        assert run.stop() < 1.0
    finally:
        run.cancel.set()
    assert isinstance(run.error, dl.DownloadCancelled)
    kept = dl.ModelDownloader(tmp_path / "m").partial_bytes(entry)
    assert kept > 400_000  # Pause keeps what arrived


def test_cancel_during_a_stalled_read_returns_within_two_seconds(tmp_path, online, hub, entry):
    files = repo_files(weights_bytes=1_000_000)
    repo = hub.add_repo(entry.repo_id, files)
    repo.faults[WEIGHTS] = FileFaults(stall_after=300_000)
    run = _Run(dl.ModelDownloader(tmp_path / "m", dl.HubConfig(endpoint=hub.endpoint)), entry)
    try:
        assert run.wait_for(lambda p: p.file == WEIGHTS and p.done_bytes >= 250_000, 10)
        time.sleep(0.5)  # now the read is stalled
        assert run.stop() < 2.0
    finally:
        run.cancel.set()
    assert isinstance(run.error, dl.DownloadCancelled)
    assert "cancel" in str(run.error)
    assert dl.ModelDownloader(tmp_path / "m").partial_bytes(entry) >= 300_000


def test_a_stall_shows_in_the_progress_as_falling_speed(tmp_path, online, hub, entry):
    files = repo_files(weights_bytes=1_000_000)
    repo = hub.add_repo(entry.repo_id, files)
    repo.faults[WEIGHTS] = FileFaults(stall_after=300_000)
    run = _Run(dl.ModelDownloader(tmp_path / "m", dl.HubConfig(endpoint=hub.endpoint)), entry)
    try:
        assert run.wait_for(lambda p: p.file == WEIGHTS and p.done_bytes >= 250_000, 10)
        time.sleep(4.0)  # longer than the speed window
        late = [p for t, p in run.reports if time.monotonic() - t < 1.0]
        assert late, "no progress report during the stall"
        assert late[-1].speed_bps == 0.0
    finally:
        run.stop()


# ---------------------------------------------------------------------------- import
def test_importing_a_folder_holding_a_fifo_is_refused_not_hung(tmp_path, online, hub, entry):
    hub.add_repo(entry.repo_id, repo_files())
    usb = tmp_path / "usb"
    dl.ModelDownloader(usb, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    src = entry.folder(usb)
    (src / "vae/config.json").unlink()
    os.mkfifo(src / "vae/config.json")  # a listed file that is a pipe: reading it blocks forever
    target = dl.ModelDownloader(tmp_path / "models", dl.HubConfig(offline=True))
    box: dict = {}

    def go() -> None:
        try:
            target.import_folder(entry, src)
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    worker = threading.Thread(target=go, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the hung reader so the test process can end
        with open(src / "vae/config.json", "wb"):
            pass
        pytest.fail("importing a folder with a pipe hung")
    assert isinstance(box.get("error"), dl.DownloadError)
    assert "not a regular file" in str(box["error"])
    assert not is_installed(entry, tmp_path / "models")


def test_cancel_while_the_hub_does_not_answer_the_file_list(tmp_path, online, hub, entry):
    hub.add_repo(entry.repo_id, repo_files(), stall_listing=True)
    run = _Run(dl.ModelDownloader(tmp_path / "m", dl.HubConfig(endpoint=hub.endpoint)), entry)
    try:
        assert run.wait_for(lambda p: p.phase == "plan", 5)
        time.sleep(0.5)  # the listing request hangs
        assert run.stop() < 1.0
    finally:
        run.cancel.set()
    assert isinstance(run.error, dl.DownloadCancelled)
