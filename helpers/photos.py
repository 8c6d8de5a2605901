"""Photo folders the way users have them: one subfolder per class, photos of any size inside.

``scan_folder`` lists the photos of a folder the way ``keras.utils.image_dataset_from_directory``
does (class subfolders in alphabetical order, files in them and their subfolders, the same file
extensions), but it opens every file first: a file that is not an image, is corrupt or truncated,
is a grayscale or CMYK JPEG, or is smaller than the model's input on both sides is skipped and
listed with the reason, never silently used (``strict=True`` raises instead).

``split_by_name`` puts each photo into the train pool, the validation set or the test set by a
hash of its class and file name against fixed thresholds. Listing order plays no part, so a
photo lands in the same split whether the folder holds the mirror's 3,000 flower photos or the
full archive's 3,670. ``PhotoSplit.training_subset`` takes nested per-class subsets of the
train pool in hash order.

``photo_dataset`` streams photos from their files through ``tf.data``, one batch at a time,
with ``image_dataset_from_directory``'s own loading steps (read, decode to RGB, bilinear
resize). We build that pipeline from the scanned paths instead of calling
``image_dataset_from_directory`` on the folder because the Keras function lists the folder
itself: it would read the files the scan skipped, and it splits by a seeded shuffle of the
listing, so a photo's split would depend on which other photos exist. A test proves the two
give the same pixels for the same files.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers.infra import assets
from helpers.infra.cache import cached

# The extensions image_dataset_from_directory reads (keras ALLOWLIST_FORMATS), compared in lower case.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TEST_FRACTION = 0.20  # a photo whose name hashes below this is a test photo
VALIDATION_FRACTION = 0.15  # the next band of the hash is validation; the rest is the train pool
SUBSET_SIZES = (5, 10, 25, 50, 100)  # photos per class of the nested training subsets (and then all)
_COLOUR_MODES = ("RGB", "RGBA", "P", "PA")  # PIL modes that decode to a colour photo


class PhotoFolderError(ValueError):
    """A folder of photos cannot be used as it is; the message names the problem and the path."""


@dataclass(frozen=True)
class Skipped:
    """A file inside a class folder that is not used, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class PhotoFolder:
    """The usable photos of a folder of class subfolders, and the files that were skipped.

    ``names`` are paths relative to ``root`` with '/' separators ("daisy/123.jpg");
    ``digests`` the SHA-256 of each file's bytes, so a cached result computed from these
    photos is recomputed when a photo changes.
    """

    root: str
    class_names: tuple[str, ...]
    names: tuple[str, ...]
    labels: np.ndarray
    digests: tuple[str, ...]
    skipped: tuple[Skipped, ...] = ()

    def __len__(self) -> int:
        return len(self.names)

    @property
    def paths(self) -> list[str]:
        """Every usable photo's full path, in the folder's order."""
        return [str(Path(self.root, name)) for name in self.names]

    def counts(self) -> dict[str, int]:
        """Usable photos per class."""
        return {name: int(np.sum(self.labels == index)) for index, name in enumerate(self.class_names)}

    def take(self, indices: Any) -> PhotoFolder:
        """The photos at ``indices`` (in that order), with the same classes and skipped list."""
        chosen = np.asarray(indices, dtype=np.int64)
        if chosen.ndim != 1 or (chosen.size and (chosen.min() < 0 or chosen.max() >= len(self))):
            raise ValueError(f"expected a 1-D array of indices in [0, {len(self) - 1}], got {chosen!r}")
        return PhotoFolder(self.root, self.class_names, tuple(self.names[i] for i in chosen), self.labels[chosen],
                           tuple(self.digests[i] for i in chosen), self.skipped)


def inspect_photo(path: Path, min_size: int | None = None) -> str | None:
    """Why the file at ``path`` cannot be used as a colour photo, or None when it can.

    The whole photo is decoded (JPEGs in PIL's fast reduced-size draft mode, which still reads
    every byte), so a truncated file is caught here and not in the middle of training.
    """
    from PIL import Image, UnidentifiedImageError

    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return f"not an image file (extension {path.suffix or 'none'!r}; expected one of {', '.join(IMAGE_EXTENSIONS)})"
    try:
        with Image.open(path) as image:
            kind, mode, (width, height) = image.format, image.mode, image.size
            if kind == "JPEG" and min_size:
                image.draft("RGB", (min_size, min_size))
            image.load()
    except UnidentifiedImageError:
        return "not an image: no image format recognised in its bytes"
    except (OSError, SyntaxError, ValueError) as error:
        return f"corrupt or truncated ({error})"
    if mode == "CMYK":
        return (f"a CMYK {kind}: printing colours, which decoders turn into RGB differently (some store them "
                f"inverted), so what the model would see is uncertain; save it as RGB")
    if mode not in _COLOUR_MODES:
        return f"a grayscale {kind} (mode {mode}): a colour classifier would see no colour; convert it to RGB first"
    if min_size and width < min_size and height < min_size:
        return f"smaller than the model's input: {width}x{height} pixels, both sides below {min_size}"
    return None


@cached
def _inspect_files(files: tuple[tuple[str, int, int], ...], min_size: int | None) -> tuple[tuple[str | None, str], ...]:
    """(reason or None, SHA-256) of each (path, size, modification time) file; cached, so a folder
    whose files have not changed is not decoded again."""
    return tuple((inspect_photo(Path(path), min_size), assets.payload_sha256(Path(path), gzipped=False))
                 for path, _, _ in files)


def _class_folders(root: Path) -> list[Path]:
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def scan_folder(root: str | Path, min_size: int | None = None, strict: bool = False,
                rejected: Mapping[str, str] | None = None) -> PhotoFolder:
    """The usable photos of ``root``, a folder with one subfolder per class.

    ``min_size`` is the model's input size: a photo smaller on both sides is skipped.
    ``rejected`` maps relative paths to reasons decided elsewhere (a failed checksum).
    With ``strict`` any skipped file raises a PhotoFolderError listing them all.
    """
    folder = Path(root).expanduser()
    if not folder.exists():
        raise PhotoFolderError(f"photo folder {folder} does not exist; expected a folder with one subfolder per class")
    if not folder.is_dir():
        raise PhotoFolderError(f"{folder} is a file; expected a folder with one subfolder per class")
    if min_size is not None and (isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1):
        raise ValueError(f"min_size must be a positive int (the model's input size) or None, got {min_size!r}")
    classes = _class_folders(folder)
    if not classes:
        loose = [p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        detail = f" (it holds {len(loose)} files directly: put them in one subfolder per class)" if loose else ""
        raise PhotoFolderError(f"photo folder {folder} has no class subfolders{detail}; expected e.g. "
                               f"{folder}/daisy/*.jpg, {folder}/roses/*.jpg")
    if len(classes) < 2:
        raise PhotoFolderError(f"photo folder {folder} has one class subfolder ({classes[0].name}); "
                               f"a classifier needs at least two classes")
    rejected = dict(rejected or {})
    listing: list[tuple[int, Path]] = []
    for label, class_folder in enumerate(classes):
        files = sorted((p for p in class_folder.rglob("*") if p.is_file() and not p.name.startswith(".")),
                       key=lambda p: p.relative_to(class_folder).as_posix())
        if not files:
            raise PhotoFolderError(f"class folder {class_folder} holds no files; every class needs photos")
        listing += [(label, path) for path in files]
    stats = tuple((str(path), path.stat().st_size, path.stat().st_mtime_ns) for _, path in listing)
    inspected = _inspect_files(stats, min_size)
    names, labels, digests, skipped = [], [], [], []
    for (label, path), (reason, digest) in zip(listing, inspected):
        name = path.relative_to(folder).as_posix()
        reason = rejected.get(name, reason)
        if reason is None:
            names.append(name)
            labels.append(label)
            digests.append(digest)
        else:
            skipped.append(Skipped(str(path), reason))
    result = PhotoFolder(str(folder), tuple(p.name for p in classes), tuple(names), np.asarray(labels, dtype=np.int64),
                         tuple(digests), tuple(skipped))
    empty = [name for name, count in result.counts().items() if count == 0]
    if empty:
        why = "; ".join(str(s) for s in skipped if Path(s.path).is_relative_to(folder / empty[0]))
        raise PhotoFolderError(f"class folder(s) {', '.join(str(folder / name) for name in empty)} hold no usable "
                               f"photo; skipped: {why[:600]}")
    if strict and skipped:
        raise PhotoFolderError(f"{len(skipped)} file(s) in {folder} cannot be used:\n  " +
                               "\n  ".join(str(s) for s in skipped))
    return result


def flower_photos(min_size: int | None = None, strict: bool = False) -> PhotoFolder:
    """TensorFlow's flower photos, wherever they come from (``assets.fetch_folder``): the course
    cache, the mirror (3,000 photos) or the download (3,670). Photos failing their checksum are
    skipped and listed."""
    verified = assets.fetch_folder("flower_photos")
    return scan_folder(verified.path, min_size=min_size, strict=strict, rejected=verified.rejected)


def describe_skipped(folder: PhotoFolder, limit: int = 10) -> str:
    """One line per skipped file (at most ``limit``), or a sentence saying none was skipped."""
    if not folder.skipped:
        return f"no file skipped: all {len(folder):,} photos are usable"
    lines = [f"{len(folder.skipped)} file(s) skipped, never used:"] + [f"  {s}" for s in folder.skipped[:limit]]
    if len(folder.skipped) > limit:
        lines.append(f"  ... and {len(folder.skipped) - limit} more")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the split


def name_position(name: str, salt: str = "") -> float:
    """A number in [0, 1) fixed by a photo's relative name ("daisy/123.jpg") alone: the first
    64 bits of its SHA-256 (after ``salt``), divided by 2**64."""
    digest = hashlib.sha256(f"{salt}{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class PhotoSplit:
    """Indices into ``folder``: the train pool, the validation photos and the test photos."""

    folder: PhotoFolder
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def counts(self) -> dict[str, dict[str, int]]:
        """Photos per class in each part: {"train": {"daisy": ..., ...}, ...}."""
        parts = {"train": self.train, "validation": self.validation, "test": self.test}
        return {part: {name: int(np.sum(self.folder.labels[indices] == label))
                       for label, name in enumerate(self.folder.class_names)}
                for part, indices in parts.items()}

    def training_subset(self, per_class: int | None, seed: int = 0) -> np.ndarray:
        """The first ``per_class`` train-pool photos of each class in the hash order of ``seed``
        (None: all of them). Subsets of one seed are nested: the 10 of a class include its 5."""
        labels = self.folder.labels[self.train]
        if per_class is None:
            return self.train
        if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
            raise ValueError(f"per_class must be a positive int or None (all), got {per_class!r}")
        chosen = []
        for label, name in enumerate(self.folder.class_names):
            members = self.train[labels == label]
            if len(members) < per_class:
                raise ValueError(f"class {name!r} has {len(members)} photos in the train pool, fewer than "
                                 f"per_class={per_class}")
            order = sorted(members, key=lambda i: name_position(self.folder.names[i], salt=f"subset {seed}:"))
            chosen += order[:per_class]
        return np.sort(np.asarray(chosen, dtype=np.int64))

    def __str__(self) -> str:
        return (f"{len(self.train):,} train pool / {len(self.validation):,} validation / "
                f"{len(self.test):,} test photos")


def split_by_name(folder: PhotoFolder, test: float = TEST_FRACTION,
                  validation: float = VALIDATION_FRACTION) -> PhotoSplit:
    """Each photo's part fixed by ``name_position`` of its class and file name: below ``test`` it is
    a test photo, below ``test + validation`` a validation photo, otherwise in the train pool. The
    same thresholds apply within every class (stratified), and no photo's part depends on others."""
    if not (0 < test < 1 and 0 < validation < 1 and test + validation < 1):
        raise ValueError(f"test and validation must be fractions with test + validation < 1, got {test}, {validation}")
    positions = np.array([name_position(name) for name in folder.names])
    parts = PhotoSplit(folder, np.flatnonzero(positions >= test + validation),
                       np.flatnonzero((positions >= test) & (positions < test + validation)),
                       np.flatnonzero(positions < test))
    for part, counts in parts.counts().items():
        empty = [name for name, count in counts.items() if count == 0]
        if empty:
            raise PhotoFolderError(f"the {part} part holds no photo of class(es) {', '.join(empty)} in {folder.root}; "
                                   f"each class needs more photos (the split by name puts about "
                                   f"{test:.0%} of a class in test and {validation:.0%} in validation)")
    return parts


# ---------------------------------------------------------------------------- loading


def load_photo(path: Any, size: int | None = None, crop_to_aspect_ratio: bool = False) -> Any:
    """One photo file as a float32 RGB tensor with raw 0-255 values, resized to ``size`` x ``size``
    (bilinear) unless ``size`` is None: ``image_dataset_from_directory``'s steps."""
    import tensorflow as tf

    image = tf.image.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    if size is None:
        return tf.cast(image, tf.float32)
    if crop_to_aspect_ratio:
        import keras

        return keras.preprocessing.image.smart_resize(image, (size, size))
    resized = tf.image.resize(image, (size, size), method="bilinear")
    resized.set_shape((size, size, 3))
    return resized


def photo_dataset(paths: Sequence[str], labels: Any | None = None, size: int = 224, batch_size: int = 32,
                  crop_to_aspect_ratio: bool = False) -> Any:
    """A ``tf.data.Dataset`` of batches of photos (float32, raw 0-255, size x size), with their
    labels when given. Files are read as the batches are consumed: memory holds a few batches,
    however many photos there are."""
    import tensorflow as tf

    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if len(paths) == 0:
        raise ValueError("expected at least one photo path, got none")
    files = tf.data.Dataset.from_tensor_slices([str(path) for path in paths])
    photos = files.map(lambda path: load_photo(path, size, crop_to_aspect_ratio), num_parallel_calls=tf.data.AUTOTUNE)
    if labels is not None:
        label_array = np.asarray(labels)
        if len(label_array) != len(paths):
            raise ValueError(f"expected one label per photo: {len(paths)} photos, {len(label_array)} labels")
        photos = tf.data.Dataset.zip((photos, tf.data.Dataset.from_tensor_slices(label_array)))
    return photos.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def photo_array(folder: PhotoFolder, size: int) -> np.ndarray:
    """A handful of photos as one uint8 array (N, size, size, 3), for showing them."""
    batches = photo_dataset(folder.paths, size=size, batch_size=64)
    return np.concatenate([np.round(batch.numpy()).astype(np.uint8) for batch in batches])


@cached
def decoded_photos(folder: PhotoFolder, size: int) -> np.ndarray:
    """Every photo of ``folder`` decoded once and resized to ``size``, as uint8 (N, size, size, 3):
    what a model trained from the pixels reads in every epoch (size * size * 3 bytes per photo)."""
    return photo_array(folder, size)


# ---------------------------------------------------------------------------- a folder to practise on


def write_practice_folder(target: str | Path, per_class: int = 8, problems: bool = True,
                          source: PhotoFolder | None = None) -> Path:
    """A small copy of a photo folder (the flower photos by default): ``per_class`` photos of each
    class, in name-hash order, plus, with ``problems``, one file of each kind the scan must skip
    (a text file, a text file named .jpg, a truncated JPEG, a grayscale and a CMYK JPEG, a photo
    of 40x30 pixels). For the lesson's demonstration, the tests and students' first experiments."""
    import shutil

    from PIL import Image

    folder = Path(target)
    if folder.exists() and any(folder.iterdir()):
        raise PhotoFolderError(f"{folder} is not empty; choose a new folder for the practice photos")
    origin = source if source is not None else flower_photos()
    chosen: list[tuple[str, str]] = []
    for label, name in enumerate(origin.class_names):
        members = [i for i in range(len(origin)) if origin.labels[i] == label]
        members.sort(key=lambda i: name_position(origin.names[i], salt="practice:"))
        chosen += [(name, origin.names[i]) for i in members[:per_class]]
    for class_name, relative in chosen:
        (folder / class_name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(origin.root, relative), folder / class_name / Path(relative).name)
    if problems:
        classes = list(origin.class_names)
        some_photo = Path(origin.root, chosen[0][1])
        with Image.open(some_photo) as image:
            rgb = image.convert("RGB")
        (folder / classes[0] / "notes.txt").write_text("not a photo\n")
        (folder / classes[1 % len(classes)] / "web_page.jpg").write_text("<html>saved from a browser</html>\n")
        data = some_photo.read_bytes()
        (folder / classes[2 % len(classes)] / "truncated.jpg").write_bytes(data[: len(data) * 6 // 10])
        rgb.convert("L").save(folder / classes[3 % len(classes)] / "grayscale.jpg", quality=90)
        rgb.convert("CMYK").save(folder / classes[4 % len(classes)] / "cmyk.jpg", quality=90)
        rgb.resize((40, 30)).save(folder / classes[4 % len(classes)] / "tiny.jpg", quality=90)
    return folder
