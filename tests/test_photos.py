"""Photo folders: bad input is named, the split is fixed by file names, loading streams."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import photos
from helpers.infra import assets


def write_photo(path: Path, size: tuple[int, int] = (120, 90), seed: int = 0, mode: str = "RGB") -> Path:
    """A small JPEG with a random smooth pattern (so resizing has something to do)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BILINEAR)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert(mode).save(path, quality=90)
    return path


def make_folder(root: Path, classes: dict[str, int], start: int = 0) -> Path:
    for index, (name, count) in enumerate(classes.items()):
        for number in range(start, start + count):
            write_photo(root / name / f"photo_{number:03d}.jpg", size=(100 + 7 * (number % 5), 80),
                        seed=100 * index + number)
    return root


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "photos", {"roses": 12, "daisy": 10, "tulips": 11})


# ----------------------------------------------------------------------------- listing like Keras


def test_scan_lists_the_photos_image_dataset_from_directory_reads_with_the_same_pixels(folder: Path) -> None:
    import keras

    scanned = photos.scan_folder(folder)
    keras_ds = keras.utils.image_dataset_from_directory(folder, image_size=(64, 64), batch_size=8, shuffle=False,
                                                        verbose=False)
    assert scanned.class_names == tuple(keras_ds.class_names) == ("daisy", "roses", "tulips")
    assert scanned.paths == list(keras_ds.file_paths)
    keras_pixels = np.concatenate([x.numpy() for x, _ in keras_ds])
    keras_labels = np.concatenate([y.numpy() for _, y in keras_ds])
    ours = photos.photo_dataset(scanned.paths, scanned.labels, size=64, batch_size=5)
    our_pixels = np.concatenate([x.numpy() for x, _ in ours])
    assert np.array_equal(keras_labels, scanned.labels)
    assert np.array_equal(our_pixels, keras_pixels)  # the same decoding and bilinear resize, bit for bit
    assert scanned.counts() == {"daisy": 10, "roses": 12, "tulips": 11}
    assert len(set(scanned.digests)) == len(scanned) and all(len(d) == 64 for d in scanned.digests)


def test_photo_dataset_checks_its_arguments(folder: Path) -> None:
    paths = photos.scan_folder(folder).paths
    with pytest.raises(ValueError, match="one label per photo: 33 photos, 2 labels"):
        photos.photo_dataset(paths, [0, 1])
    with pytest.raises(ValueError, match="size must be a positive int, got 0"):
        photos.photo_dataset(paths, size=0)
    with pytest.raises(ValueError, match="at least one photo path"):
        photos.photo_dataset([])


# ----------------------------------------------------------------------------- folders that cannot be used


def test_a_missing_folder_a_file_and_an_empty_folder_are_named(tmp_path: Path) -> None:
    with pytest.raises(photos.PhotoFolderError, match=f"photo folder {tmp_path / 'nowhere'} does not exist"):
        photos.scan_folder(tmp_path / "nowhere")
    (tmp_path / "a.jpg").write_bytes(b"x")
    with pytest.raises(photos.PhotoFolderError, match=f"{tmp_path / 'a.jpg'} is a file"):
        photos.scan_folder(tmp_path / "a.jpg")
    (tmp_path / "empty").mkdir()
    with pytest.raises(photos.PhotoFolderError, match=f"{tmp_path / 'empty'} has no class subfolders"):
        photos.scan_folder(tmp_path / "empty")


def test_photos_without_class_subfolders_get_advice(tmp_path: Path) -> None:
    write_photo(tmp_path / "loose" / "one.jpg")
    with pytest.raises(photos.PhotoFolderError, match="holds 1 files directly: put them in one subfolder per class"):
        photos.scan_folder(tmp_path / "loose")


def test_one_class_and_a_class_folder_without_files_are_named(tmp_path: Path) -> None:
    make_folder(tmp_path / "one", {"roses": 3})
    with pytest.raises(photos.PhotoFolderError, match="has one class subfolder \\(roses\\)"):
        photos.scan_folder(tmp_path / "one")
    make_folder(tmp_path / "two", {"roses": 3})
    (tmp_path / "two" / "tulips").mkdir()
    with pytest.raises(photos.PhotoFolderError, match=f"class folder {tmp_path / 'two' / 'tulips'} holds no files"):
        photos.scan_folder(tmp_path / "two")


def add_problem_files(root: Path) -> dict[str, str]:
    """One file of each kind the scan must skip; relative path -> words its reason must contain."""
    good = write_photo(root / "daisy" / "photo_000.jpg")
    (root / "daisy" / "notes.txt").write_text("a note")
    (root / "roses" / "saved_page.jpg").write_text("<html></html>")
    data = good.read_bytes()
    (root / "roses" / "cut_short.jpg").write_bytes(data[: len(data) // 2])
    write_photo(root / "tulips" / "gray.jpg", mode="L")
    write_photo(root / "tulips" / "print.jpg", mode="CMYK")
    write_photo(root / "tulips" / "thumbnail.jpg", size=(40, 30))
    return {"daisy/notes.txt": "not an image file (extension '.txt'", "roses/saved_page.jpg": "not an image",
            "roses/cut_short.jpg": "corrupt or truncated", "tulips/gray.jpg": "a grayscale JPEG (mode L)",
            "tulips/print.jpg": "a CMYK JPEG", "tulips/thumbnail.jpg": "smaller than the model's input: 40x30 pixels"}


def test_problem_files_are_skipped_and_listed_never_used(folder: Path) -> None:
    expected = add_problem_files(folder)
    scanned = photos.scan_folder(folder, min_size=64)
    reasons = {Path(s.path).relative_to(folder).as_posix(): s.reason for s in scanned.skipped}
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])
        assert name not in scanned.names
    assert scanned.counts() == {"daisy": 10, "roses": 12, "tulips": 11}  # photo_000.jpg was there already
    listing = photos.describe_skipped(scanned)
    assert listing.startswith("6 file(s) skipped, never used:") and str(folder / "roses" / "cut_short.jpg") in listing


def test_strict_mode_raises_naming_every_problem(folder: Path) -> None:
    expected = add_problem_files(folder)
    with pytest.raises(photos.PhotoFolderError) as raised:
        photos.scan_folder(folder, min_size=64, strict=True)
    message = str(raised.value)
    assert message.startswith(f"6 file(s) in {folder} cannot be used")
    assert all(str(folder / name) in message for name in expected)


def test_small_photos_are_skipped_only_when_both_sides_are_smaller(tmp_path: Path) -> None:
    make_folder(tmp_path / "f", {"a": 2, "b": 2})
    write_photo(tmp_path / "f" / "a" / "wide.jpg", size=(200, 50))
    write_photo(tmp_path / "f" / "a" / "small.jpg", size=(90, 60))
    names = photos.scan_folder(tmp_path / "f", min_size=96).names
    assert "a/wide.jpg" in names and "a/small.jpg" not in names
    assert "a/small.jpg" in photos.scan_folder(tmp_path / "f").names  # no model size given: nothing is too small


def test_a_class_left_without_usable_photos_is_named(tmp_path: Path) -> None:
    make_folder(tmp_path / "f", {"a": 2})
    (tmp_path / "f" / "b").mkdir()
    (tmp_path / "f" / "b" / "readme.txt").write_text("x")
    message = f"{tmp_path / 'f' / 'b'} hold no usable photo; skipped: .*readme.txt"
    with pytest.raises(photos.PhotoFolderError, match=message):
        photos.scan_folder(tmp_path / "f")


def test_a_changed_photo_is_inspected_again(folder: Path) -> None:
    assert not photos.scan_folder(folder).skipped
    target = folder / "daisy" / "photo_003.jpg"
    target.write_bytes(target.read_bytes()[:200])
    os.utime(target, ns=(1, 1))  # a new modification time, as an edit gives
    assert [Path(s.path).name for s in photos.scan_folder(folder).skipped] == ["photo_003.jpg"]


# ----------------------------------------------------------------------------- the split by name


def names_folder(names: list[str], classes: tuple[str, ...]) -> photos.PhotoFolder:
    """A PhotoFolder built from names alone (the split reads nothing else)."""
    labels = np.array([classes.index(name.split("/")[0]) for name in names])
    return photos.PhotoFolder("/nowhere", classes, tuple(names), labels, tuple("0" * 64 for _ in names))


def test_each_photo_keeps_its_part_in_a_subset_and_a_superset_of_the_folder() -> None:
    classes = ("daisy", "roses", "tulips")
    everything = [f"{c}/{number}_{c[:2]}.jpg" for c in classes for number in range(900)]
    rng = np.random.default_rng(0)
    subset = sorted(rng.choice(everything, size=1500, replace=False))  # the mirror holds part of the archive
    reordered = ("tulips", "daisy", "roses")  # other label numbers, and the listing reversed
    parts = []
    for names, class_names in ((everything, classes), (subset, classes), (subset[::-1], reordered)):
        split = photos.split_by_name(names_folder(list(names), class_names))
        members = {"train": split.train, "validation": split.validation, "test": split.test}
        parts.append({split.folder.names[i]: part for part, indices in members.items() for i in indices})
    assert all(parts[0][name] == parts[1][name] == parts[2][name] for name in subset)


def test_the_split_is_stratified_with_the_fixed_fractions_and_disjoint() -> None:
    classes = ("a", "b", "c")
    split = photos.split_by_name(names_folder([f"{c}/{n}.jpg" for c in classes for n in range(2000)], classes))
    every = np.concatenate([split.train, split.validation, split.test])
    assert sorted(every.tolist()) == list(range(6000))
    for part, fraction in (("test", 0.20), ("validation", 0.15), ("train", 0.65)):
        for count in split.counts()[part].values():
            assert abs(count / 2000 - fraction) < 0.03, (part, count)


def test_a_part_left_without_a_class_is_named() -> None:
    folder = names_folder(["a/1.jpg", "a/2.jpg", "b/1.jpg", "b/2.jpg"], ("a", "b"))
    with pytest.raises(photos.PhotoFolderError, match="holds no photo of class"):
        photos.split_by_name(folder)


def test_training_subsets_are_nested_per_class_and_change_with_the_seed() -> None:
    classes = ("a", "b", "c")
    split = photos.split_by_name(names_folder([f"{c}/{n}.jpg" for c in classes for n in range(300)], classes))
    labels = split.folder.labels
    for seed in (0, 1):
        previous: set[int] = set()
        for per_class in photos.SUBSET_SIZES:
            chosen = split.training_subset(per_class, seed)
            assert set(chosen) >= previous and set(chosen) <= set(split.train)
            assert np.bincount(labels[chosen]).tolist() == [per_class] * 3
            previous = set(chosen)
    assert set(split.training_subset(5, 0)) != set(split.training_subset(5, 1))
    assert np.array_equal(split.training_subset(None), split.train)
    with pytest.raises(ValueError, match="photos in the train pool, fewer than per_class=1000"):
        split.training_subset(1000)
    with pytest.raises(ValueError, match="per_class must be a positive int or None"):
        split.training_subset(0)


# ----------------------------------------------------------------------------- the flower photos as an asset


def test_the_mirror_folder_verifies_photo_by_photo() -> None:
    verified = assets.fetch_folder("flower_photos", download=False)
    assert verified.source in ("cache", "mirror") and not verified.rejected
    assert verified.verified == len(assets.read_manifest(verified.path / assets.MANIFEST_NAME)) >= 3000


def copy_of_flowers(target: Path, per_class: int = 3) -> Path:
    source = assets.fetch_folder("flower_photos", download=False).path
    for class_folder in sorted(p for p in source.iterdir() if p.is_dir()):
        for photo in sorted(class_folder.iterdir())[:per_class]:
            (target / class_folder.name).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(photo, target / class_folder.name / photo.name)
    return target


def test_a_photo_failing_its_checksum_is_reported_and_not_used(tmp_path: Path) -> None:
    folder = copy_of_flowers(tmp_path / "flowers")
    assets.write_manifest(folder)
    victim = sorted((folder / "roses").iterdir())[1]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")  # still a decodable JPEG, but not the photo
    (folder / "tulips" / "extra.jpg").write_bytes(victim.read_bytes())
    verified = assets.verify_folder(assets.FOLDER_ASSETS["flower_photos"], "cache", folder)
    assert verified.verified == 14
    assert "fails its SHA-256 check" in verified.rejected[f"roses/{victim.name}"]
    assert verified.rejected["tulips/extra.jpg"] == "not listed in MANIFEST.sha256"
    scanned = photos.scan_folder(folder, rejected=verified.rejected)
    assert f"roses/{victim.name}" not in scanned.names and len(scanned) == 14
    assert {Path(s.path).name for s in scanned.skipped} == {victim.name, "extra.jpg"}


def test_a_mirror_manifest_that_is_not_the_pinned_one_is_refused(tmp_path: Path, monkeypatch, isolated_cache):
    mirror = tmp_path / "mirror"
    folder = copy_of_flowers(mirror / "datasets" / "flower_photos")
    assets.write_manifest(folder)  # a manifest of 15 photos: not the mirror's
    monkeypatch.setenv("COURSE_ASSETS", str(mirror))
    with pytest.raises(assets.AssetCorruptError, match="is not the manifest the course expects"):
        assets.verify_folder(assets.FOLDER_ASSETS["flower_photos"], "mirror", folder)
    with pytest.raises(assets.AssetMissingError) as raised:
        assets.fetch_folder("flower_photos", download=False)
    message = str(raised.value)
    assert "not the manifest the course expects" in message and "COURSE_ASSETS" in message
    assert "flower_photos.tgz" in message


def test_the_archive_is_downloaded_unpacked_and_then_checked_from_the_cache(tmp_path, monkeypatch, isolated_cache):
    import dataclasses

    archive_root = copy_of_flowers(tmp_path / "archive" / "flower_photos", per_class=2)
    (archive_root / "LICENSE.txt").write_text("CC BY 2.0")
    archive = tmp_path / "flower_photos.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(archive_root, arcname="flower_photos")
    patched = dataclasses.replace(assets.FOLDER_ASSETS["flower_photos"], url=archive.as_uri())
    monkeypatch.setitem(assets.FOLDER_ASSETS, "flower_photos", patched)
    monkeypatch.delenv("COURSE_ASSETS", raising=False)
    downloaded = assets.fetch_folder("flower_photos")
    assert downloaded.source == "download" and downloaded.verified == 10 and not downloaded.rejected
    assert downloaded.path == patched.cache_folder() and (downloaded.path / "MANIFEST.sha256").is_file()
    again = assets.fetch_folder("flower_photos", download=False)
    assert again.source == "cache" and again.verified == 10
    assert len(photos.flower_photos()) == 10


# ----------------------------------------------------------------------------- memory


MEASURE = """
import resource, sys
import numpy as np
from helpers import photos
paths = sys.argv[1].split(",") * int(sys.argv[2])
batches = photos.photo_dataset(paths, size=224, batch_size=32)
first = next(iter(batches))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
count = sum(len(batch) for batch in batches)
print(count, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def test_streaming_keeps_memory_flat_however_many_photos(folder: Path) -> None:
    paths = ",".join(photos.scan_folder(folder).paths)
    grown = {}
    for repeats in (4, 40):  # 132 and 1,320 photos; all 1,320 at 224 px as float32 would take 795 MB
        done = subprocess.run([sys.executable, "-c", MEASURE, paths, str(repeats)], capture_output=True, text=True,
                              timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        count, megabytes = done.stdout.split()[-2:]
        assert int(count) == 33 * repeats, done.stderr[-2000:]
        grown[repeats] = float(megabytes)
    assert grown[40] - grown[4] < 60, grown  # peak memory grows by far less than the photos would take
