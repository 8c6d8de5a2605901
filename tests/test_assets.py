"""Where assets come from, and that a bad copy is never used."""
from __future__ import annotations

import dataclasses
import gzip
import shutil
from pathlib import Path

import pytest

from helpers.infra import assets

DIGITS = "mnist/train-labels-idx1-ubyte"
WEIGHTS = "mobilenet_v2_96_no_top"


def _no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(asset: assets.Asset) -> Path:
        raise OSError("network unreachable (simulated offline)")

    monkeypatch.setattr(assets, "_download", offline)


def _fake_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes | None]) -> Path:
    """A mirror holding real copies of the named assets, or the given bytes instead."""
    real = assets.mirror_dir()
    assert real is not None, "these tests need COURSE_ASSETS (the offline mirror)"
    mirror = tmp_path / "mirror"
    for name, content in files.items():
        target = mirror / assets.ASSETS[name].mirror_path
        target.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            shutil.copyfile(real / assets.ASSETS[name].mirror_path, target)
        else:
            target.write_bytes(content)
    monkeypatch.setenv("COURSE_ASSETS", str(mirror))
    return mirror


def _truncated(name: str) -> bytes:
    real = assets.mirror_dir()
    assert real is not None
    data = (real / assets.ASSETS[name].mirror_path).read_bytes()
    return data[: len(data) // 2]


def test_every_mirror_asset_verifies() -> None:
    report = assets.verify_all()
    assert len(report) == 20  # 8 idx files, 6 weight files, the class index, 5 photos
    assert assets.problems(report) == []


def test_dataset_hash_is_of_the_uncompressed_payload(tmp_path: Path) -> None:
    real = assets.mirror_dir()
    assert real is not None
    regzipped = tmp_path / "train-labels-idx1-ubyte.gz"
    with gzip.open(real / assets.ASSETS[DIGITS].mirror_path) as src:
        payload = src.read()
    regzipped.write_bytes(gzip.compress(payload, compresslevel=1, mtime=123))
    assert regzipped.read_bytes() != (real / assets.ASSETS[DIGITS].mirror_path).read_bytes()
    assert assets.is_valid(assets.ASSETS[DIGITS], regzipped)


def test_mirror_copy_is_used_when_cache_is_empty(isolated_cache: Path) -> None:
    path = assets.fetch(DIGITS)
    assert path == assets.mirror_dir() / "datasets/mnist/train-labels-idx1-ubyte.gz"


def test_truncated_mirror_copy_is_rejected_by_name(tmp_path, isolated_cache, monkeypatch) -> None:
    _fake_mirror(tmp_path, monkeypatch, {DIGITS: _truncated(DIGITS)})
    _no_download(monkeypatch)
    with pytest.raises(assets.AssetCorruptError) as error:
        assets.fetch(DIGITS)
    assert "train-labels-idx1-ubyte.gz" in str(error.value)
    assert "SHA-256" in str(error.value)


def test_corrupt_weights_in_keras_cache_are_replaced_from_mirror(tmp_path, isolated_cache, monkeypatch) -> None:
    keras_home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    bad = keras_home / "models" / assets.ASSETS[WEIGHTS].filename
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not an h5 file")
    path = assets.fetch(WEIGHTS)
    assert path == bad
    assert assets.payload_sha256(path) == assets.ASSETS[WEIGHTS].sha256


def test_corruption_is_reported_by_verify(tmp_path, isolated_cache, monkeypatch) -> None:
    _fake_mirror(tmp_path, monkeypatch, {DIGITS: b"garbage"})
    lines = assets.problems({DIGITS: assets.inspect(assets.ASSETS[DIGITS])})
    assert any("CORRUPT" in line and "train-labels-idx1-ubyte.gz" in line for line in lines)


def test_offline_with_nothing_found_names_the_file_and_the_remedies(tmp_path, isolated_cache, monkeypatch) -> None:
    monkeypatch.delenv("COURSE_ASSETS")
    _no_download(monkeypatch)
    with pytest.raises(assets.AssetMissingError) as error:
        assets.fetch(DIGITS)
    message = str(error.value)
    assert "train-labels-idx1-ubyte.gz" in message
    assert "COURSE_ASSETS" in message and "connect to the internet" in message


def test_order_is_cache_then_mirror_then_system(tmp_path, isolated_cache, monkeypatch) -> None:
    system = tmp_path / "usr-share"
    system.mkdir()
    real = assets.mirror_dir()
    shutil.copyfile(real / assets.ASSETS[DIGITS].mirror_path, system / "train-labels-idx1-ubyte.gz")
    patched = dataclasses.replace(assets.ASSETS[DIGITS], system_dirs=(str(system),))
    monkeypatch.setitem(assets.ASSETS, DIGITS, patched)
    assert [source for source, _ in assets.candidate_paths(patched)] == ["cache", "mirror", "system"]
    monkeypatch.delenv("COURSE_ASSETS")
    assert assets.fetch(DIGITS) == system / "train-labels-idx1-ubyte.gz"
    cached = assets.cache_path(patched)
    cached.parent.mkdir(parents=True)
    shutil.copyfile(system / "train-labels-idx1-ubyte.gz", cached)
    assert assets.fetch(DIGITS) == cached


def test_download_is_verified_before_it_is_kept(tmp_path, isolated_cache, monkeypatch) -> None:
    real = assets.mirror_dir()
    good = dataclasses.replace(assets.ASSETS[DIGITS], url=(real / assets.ASSETS[DIGITS].mirror_path).as_uri())
    monkeypatch.setitem(assets.ASSETS, DIGITS, good)
    monkeypatch.delenv("COURSE_ASSETS")
    assert assets.fetch(DIGITS) == assets.cache_path(good)

    broken_source = tmp_path / "broken.gz"
    broken_source.write_bytes(gzip.compress(b"wrong payload"))
    name = "mnist/t10k-labels-idx1-ubyte"
    broken = dataclasses.replace(assets.ASSETS[name], url=broken_source.as_uri())
    monkeypatch.setitem(assets.ASSETS, name, broken)
    with pytest.raises(assets.AssetCorruptError, match="t10k-labels"):
        assets.fetch(name)
    assert not assets.cache_path(broken).exists()


def test_downloaded_weights_are_trusted_once_then_checked(tmp_path, isolated_cache, monkeypatch) -> None:
    official = tmp_path / "official.h5"
    official.write_bytes(b"weights as published, whose hash we cannot know offline")
    keras_home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.delenv("COURSE_ASSETS")
    patched = dataclasses.replace(assets.ASSETS[WEIGHTS], url=official.as_uri())
    monkeypatch.setitem(assets.ASSETS, WEIGHTS, patched)
    path = assets.fetch(WEIGHTS)
    assert path.read_bytes() == official.read_bytes()
    assert assets.fetch(WEIGHTS) == path  # recorded hash accepts it from the cache
    path.write_bytes(b"truncated")
    _no_download(monkeypatch)
    with pytest.raises(assets.AssetCorruptError, match=assets.ASSETS[WEIGHTS].filename):
        assets.fetch(WEIGHTS)


def test_unknown_asset_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="mobilenet_v2_96_no_top"):
        assets.fetch("mobilenet_v3")
