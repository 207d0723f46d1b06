from __future__ import annotations

from pathlib import Path

import pytest
from detectors_for_tests import CrashingDetector, MarkerDetector

from deepguard.config import Settings
from deepguard.scan.batch import ScanOptions, iter_input_paths, scan_paths
from media_factory import write_image


def _files(tmp_path: Path, n: int) -> list[Path]:
    return [write_image(tmp_path / f"img{i:02d}.png", "PNG", seed=i) for i in range(n)]


def test_iter_input_paths_expands_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x").write_text("x")
    for name in ("b/2.png", "a.png", ".hidden.png"):
        (tmp_path / name).write_text("x")
    found = list(iter_input_paths([tmp_path, tmp_path / "a.png"]))
    assert found == [tmp_path / "a.png", tmp_path / "b" / "2.png"]


def _options(*extra: type) -> ScanOptions:
    return ScanOptions(
        detector_names=tuple(d.name for d in extra), extra_detectors=tuple(extra)
    )


def test_parallel_results_come_in_input_order(tmp_path: Path) -> None:
    paths = _files(tmp_path, 12)
    settings = Settings(home=tmp_path)
    results = list(
        scan_paths(
            paths, settings=settings, options=_options(MarkerDetector), workers=2
        )
    )
    assert [r.file.path for r in results] == [str(p) for p in paths]
    assert all(r.ok for r in results)


@pytest.mark.slow
def test_a_crashing_file_does_not_stop_the_batch(tmp_path: Path) -> None:
    paths = _files(tmp_path, 6)
    with paths[2].open("ab") as fh:
        fh.write(b"CRASH")
    settings = Settings(home=tmp_path)
    results = list(
        scan_paths(
            paths, settings=settings, options=_options(CrashingDetector), workers=2
        )
    )
    assert len(results) == 6
    failed = [r for r in results if r.errors]
    assert [r.file.path for r in failed] == [str(paths[2])]
    assert failed[0].errors[0].error == "WorkerCrashed"


@pytest.mark.slow
def test_a_hanging_file_is_cut_off(tmp_path: Path) -> None:
    paths = _files(tmp_path, 4)
    with paths[1].open("ab") as fh:
        fh.write(b"HANG")
    settings = Settings(home=tmp_path)
    results = list(
        scan_paths(
            paths,
            settings=settings,
            options=_options(CrashingDetector),
            workers=2,
            stall_timeout_s=3.0,
        )
    )
    assert [bool(r.errors) for r in results] == [False, True, False, False]
    assert results[1].errors[0].error == "WorkerStalled"
