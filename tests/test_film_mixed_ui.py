"""The mixed storyboard (8/16/24 fps; 64x64, 48x48, 96x64) through the real window: the export
dialog shows the film's real size, rate and length, and the exported file plays back with each
shot at its own duration and its aspect ratio kept (issue 23, point 5)."""

from __future__ import annotations

import math

import pytest

from tests.film_support import MIXED, bars, decode, mixed_project, runs, square_box
from tests.ui_support import (
    plain_window,  # noqa: F401 (the window fixture)
)


def test_mixed_storyboard_exports_through_the_window(qtbot, window, tmp_path):
    project = mixed_project(tmp_path / "p")
    assert window.open_project(project.path)
    vm = window.project_vm
    vm.select(vm.shots[0].id)

    dialog = window.open_export_dialog()
    dialog.scope.setCurrentIndex(dialog.scope.findData("shot"))
    assert dialog.size.currentData() is None  # Auto (issue 20): at least 512 px
    assert dialog.output.text().startswith("512 × 512 px")
    assert dialog.size.itemText(dialog.size.findData(1)).startswith("64 × 64")
    dialog.size.setCurrentIndex(dialog.size.findData(1))  # as generated, for the layout below
    dialog.method.setCurrentIndex(dialog.method.findData("nearest"))  # pixel-exact bars
    assert dialog.output.text().startswith("64 × 64 px · 8 fps · 2.0 s")

    # the whole storyboard: the film's frame is the 3:2 shot's, at the fastest shot's rate
    dialog.scope.setCurrentIndex(dialog.scope.findData("storyboard"))
    assert dialog.size.itemText(dialog.size.findData(1)).startswith("96 × 64")
    assert dialog.size.itemText(dialog.size.findData(2)).startswith("192 × 128")
    assert dialog.fps.currentData() is None and "24 fps" in dialog.fps.currentText()
    total = sum(s.seconds for s in MIXED)
    frames = math.floor(total * 24 + 0.5)
    assert dialog.output.text() == f"96 × 64 px · 24 fps · {frames / 24:.1f} s · 3 shots"
    dialog.size.setCurrentIndex(dialog.size.findData(2))
    assert dialog.output.text().startswith("192 × 128 px · 24 fps")
    dialog.fit.setCurrentIndex(dialog.fit.findData("letterbox"))
    dialog.format.setCurrentIndex(dialog.format.findData("mp4"))
    dialog.watermark.setChecked(False)
    dialog.path_edit.setText(str(tmp_path / "out" / "film.mp4"))
    dialog.export_btn.click()
    qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=60_000)
    out = dialog.result_path
    dialog.close()

    film, fps = decode(out)
    assert fps == pytest.approx(24)
    assert film.shape[1:3] == (128, 192)
    assert len(film) == frames
    got = runs(film)
    assert [s for s, _n in got] == [0, 1, 2], got
    for (_s, n), shot in zip(got, MIXED, strict=True):
        assert abs(n / fps - shot.seconds) <= 1 / fps + 1e-9, (n, shot)
    for start in (0, 48):  # the square shots: 32 px bars each side at 2x, square kept square
        left, right = bars(film[start + 3])
        assert abs(left - 32) <= 2 and abs(right - 32) <= 2, (left, right)
        w, h = square_box(film[start + 3])
        assert abs(w - h) <= 2 and abs(w - 64) <= 3, (w, h)
    assert bars(film[-3]) == (0, 0)

    # the project remembers the film's rate ("Auto") and fit with its export settings
    remembered = vm.project.export_settings
    assert (remembered.fps, remembered.fit, remembered.upscale) == (None, "letterbox", 2)


def test_dialog_offers_crop_and_a_fixed_rate(qtbot, window, tmp_path):
    project = mixed_project(tmp_path / "p")
    assert window.open_project(project.path)
    dialog = window.open_export_dialog()
    dialog.scope.setCurrentIndex(dialog.scope.findData("storyboard"))
    dialog.fit.setCurrentIndex(dialog.fit.findData("crop"))
    dialog.fps.setCurrentIndex(dialog.fps.findData(30))
    dialog.size.setCurrentIndex(dialog.size.findData(1))  # as generated (the default is Auto)
    dialog.method.setCurrentIndex(dialog.method.findData("nearest"))
    dialog.watermark.setChecked(False)  # its white letters would join the measured square
    assert dialog.output.text().startswith("96 × 64 px · 30 fps")
    dialog.path_edit.setText(str(tmp_path / "crop.mp4"))
    dialog.export_btn.click()
    qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=60_000)
    film, fps = decode(dialog.result_path)
    dialog.close()
    assert fps == pytest.approx(30) and film.shape[1:3] == (64, 96)
    first = film[3]
    assert bars(first) == (0, 0)
    w, h = square_box(first)
    assert abs(w - h) <= 2 and abs(w - 48) <= 2
    remembered = window.project_vm.project.export_settings
    assert (remembered.fps, remembered.fit) == (30, "crop")
