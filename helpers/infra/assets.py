"""Where datasets, weights and photos come from, verified by SHA-256.

Every asset is looked for, in order, in
1. the writable cache (``$KERAS_HOME/models`` for Keras weights, ``$COURSE_CACHE`` otherwise),
2. the read-only mirror named by ``COURSE_ASSETS`` (laid out like ``../shared/assets``),
3. known system locations (Debian's ``dataset-fashion-mnist`` package),
4. the normal download address (what Keras itself would fetch).

A copy whose SHA-256 does not match is never used; it is reported by path.
Datasets are verified by the hash of their *uncompressed* idx payload, because
the gzip containers differ between sources while the payload does not.
Downloaded weights have no published hash: the first good download is recorded
in the cache (``trusted-downloads.json``) so a later truncation is still caught.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Callable

_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_FASHION_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_CORAL_URL = "https://github.com/google-coral/test_data/raw/master/"
_MOBILENET_NO_TOP_SHA = "71e4c4ec4aa24c9c951b9265d6de42e1336dcf614c2214fa6a989208615e232c"
DOWNLOAD_TIMEOUT_SECONDS = 60


class AssetError(RuntimeError):
    """An asset could not be provided."""


class AssetMissingError(AssetError, FileNotFoundError):
    """No copy of the asset exists anywhere we may look, and it cannot be downloaded."""


class AssetCorruptError(AssetError):
    """Copies exist but none matches its SHA-256."""


@dataclass(frozen=True)
class Asset:
    """One file the course needs."""

    name: str  # stable identifier, e.g. "mnist/train-images-idx3-ubyte"
    mirror_path: str  # path inside a COURSE_ASSETS mirror
    sha256: str  # of the payload (uncompressed for .gz datasets)
    url: str  # where it is downloaded from on a connected machine
    in_keras_cache: bool = False  # Keras looks for it in $KERAS_HOME/models
    system_dirs: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return Path(self.mirror_path).name

    @property
    def gzipped(self) -> bool:
        return self.mirror_path.endswith(".gz")


def _dataset_assets() -> list[Asset]:
    hashes = {
        "mnist": {
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        "fashion-mnist": {
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    }
    origins = {"mnist": _MNIST_URL, "fashion-mnist": _FASHION_URL}
    system = {"mnist": (), "fashion-mnist": ("/usr/share/datasets/fashion-mnist",)}
    return [
        Asset(
            name=f"{folder}/{stem}",
            mirror_path=f"datasets/{folder}/{stem}.gz",
            sha256=sha,
            url=f"{origins[folder]}{stem}.gz",
            system_dirs=system[folder],
        )
        for folder, files in hashes.items()
        for stem, sha in files.items()
    ]


def _model_assets() -> list[Asset]:
    no_top = [
        Asset(
            name=f"mobilenet_v2_{size}_no_top",
            mirror_path=f"models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5",
            sha256=_MOBILENET_NO_TOP_SHA,
            url=f"{_KERAS_APPS}mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5",
            in_keras_cache=True,
        )
        for size in (96, 128, 160, 192, 224)
    ]
    return no_top + [
        Asset(
            name="mobilenet_v2_224_top",
            mirror_path="models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
            sha256="087a37bd560b731ad1b32e4bb5ec5a035a4a454cd67689c6e538d71d80b7f671",
            url=f"{_KERAS_APPS}mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
            in_keras_cache=True,
        ),
        Asset(
            name="imagenet_class_index",
            mirror_path="models/imagenet_class_index.json",
            sha256="a1e7a966a1f601d39e4b43e119b3e7dd4a2ad3ea08cf69847cbaf021013767bc",
            url="https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
            in_keras_cache=True,
        ),
    ]


def _image_assets() -> list[Asset]:
    photos = {
        "cat.bmp": "34f235786382686111728287fd26d4c24dd8c25de8233469d6eeb301888ce0a9",
        "bird.bmp": "3fd22d6ed352b8e721d9982e38ed655f8429e168bb53ad205c6f3cdfa848e994",
        "parrot.jpg": "a8fba9e7e29439fa414c13129aad661f2289ff891231920a7c33641b076f1833",
        "hot_dog.jpg": "ed6952e022eb71c0d0b1ff068dcee3abed056dfa1852f041c35f138c4ff15b2e",
        "sunflower.bmp": "896b5e31cee42ebe32ee91251fc42041ca03c767fe02bd7ebc0e37d45f4a45b2",
    }
    return [
        Asset(name=f"images/{fname}", mirror_path=f"images/{fname}", sha256=sha, url=f"{_CORAL_URL}{fname}")
        for fname, sha in photos.items()
    ]


ASSETS: dict[str, Asset] = {a.name: a for a in _dataset_assets() + _model_assets() + _image_assets()}
SAMPLE_PHOTOS: tuple[str, ...] = tuple(n for n in ASSETS if n.startswith("images/"))


# --- configured locations ---------------------------------------------------------


def cache_dir() -> Path:
    """The writable course cache: ``$COURSE_CACHE`` or a per-user cache folder."""
    configured = os.environ.get("COURSE_CACHE")
    if configured:
        return Path(configured).expanduser().resolve()
    if sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Caches"
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return root / "transfer-learning-course"


def write_atomically(target: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Create ``target`` through ``write(file)`` on a temporary file that is renamed once complete,
    so an interrupted run never leaves a half-written cache entry behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        tmp_path = Path(tmp.name)
        try:
            write(tmp)
        except BaseException:
            tmp.close()
            tmp_path.unlink(missing_ok=True)
            raise
    os.replace(tmp_path, target)


def mirror_dir() -> Path | None:
    """The read-only mirror named by ``COURSE_ASSETS``, or None when unset."""
    configured = os.environ.get("COURSE_ASSETS")
    return Path(configured).expanduser().resolve() if configured else None


def keras_home() -> Path:
    """Where Keras keeps downloads, as Keras itself decides it."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()


def cache_path(asset: Asset) -> Path:
    """Where the writable copy of ``asset`` lives."""
    if asset.in_keras_cache:
        return keras_home() / "models" / asset.filename
    return cache_dir() / asset.mirror_path


# --- verification -----------------------------------------------------------------


def payload_sha256(path: Path, gzipped: bool | None = None) -> str:
    """SHA-256 of the file's content, decompressed first when it is gzipped (default: by its suffix)."""
    opener = gzip.open if (path.suffix == ".gz" if gzipped is None else gzipped) else open
    digest = hashlib.sha256()
    try:
        with opener(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except (OSError, EOFError) as error:  # truncated or not gzip at all
        return f"unreadable ({error.__class__.__name__}: {error})"
    return digest.hexdigest()


@lru_cache(maxsize=256)
def _hash_of(path: str, size: int, mtime_ns: int) -> str:
    return payload_sha256(Path(path))


def _current_hash(path: Path) -> str:
    stat = path.stat()
    return _hash_of(str(path), stat.st_size, stat.st_mtime_ns)


def _trusted_downloads_file() -> Path:
    return cache_dir() / "trusted-downloads.json"


def trusted_downloads() -> dict[str, str]:
    """Asset name -> SHA-256 of downloads accepted without a published hash (official weights)."""
    try:
        return json.loads(_trusted_downloads_file().read_text())
    except (OSError, ValueError):
        return {}


def _accepted_hashes(asset: Asset) -> set[str]:
    accepted = {asset.sha256}
    trusted = trusted_downloads().get(asset.name)
    if trusted:
        accepted.add(trusted)
    return accepted


def is_valid(asset: Asset, path: Path) -> bool:
    """True when ``path`` holds exactly the payload ``asset`` expects."""
    return _current_hash(path) in _accepted_hashes(asset)


# --- locating ----------------------------------------------------------------------


@dataclass(frozen=True)
class Copy:
    """One place an asset may be found and what was found there."""

    source: str  # "cache", "mirror", "system" or "download"
    path: Path | None
    state: str  # "ok", "corrupt: <detail>", "absent"


def candidate_paths(asset: Asset) -> list[tuple[str, Path]]:
    """The local places to look for ``asset``, in priority order."""
    places = [("cache", cache_path(asset))]
    mirror = mirror_dir()
    if mirror is not None:
        places.append(("mirror", mirror / asset.mirror_path))
    places += [("system", Path(folder) / asset.filename) for folder in asset.system_dirs]
    return places


def inspect(asset: Asset) -> list[Copy]:
    """What every local place holds for ``asset`` (does not download)."""
    copies = []
    for source, path in candidate_paths(asset):
        if not path.is_file():
            copies.append(Copy(source, path, "absent"))
        elif is_valid(asset, path):
            copies.append(Copy(source, path, "ok"))
        else:
            copies.append(Copy(source, path, f"corrupt: sha256 {_current_hash(path)[:16]}..., expected {asset.sha256[:16]}..."))
    return copies


def _atomic_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        tmp_path = Path(tmp.name)
    try:
        shutil.copyfile(source, tmp_path)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def _download(asset: Asset) -> Path:
    target = cache_path(asset)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        tmp_path = Path(tmp.name)
    try:
        with urllib.request.urlopen(asset.url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response, open(tmp_path, "wb") as out:
            shutil.copyfileobj(response, out)
        got = payload_sha256(tmp_path, gzipped=asset.gzipped)
        if got != asset.sha256 and not asset.in_keras_cache:
            raise AssetCorruptError(f"downloaded {asset.url} but its sha256 is {got}, expected {asset.sha256}")
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)
    if got != asset.sha256:  # official weights differ from the mirror's: trust this first good download
        _record_trusted(asset, got)
    return target


def _record_trusted(asset: Asset, sha: str) -> None:
    trusted = trusted_downloads()
    trusted[asset.name] = sha
    text = json.dumps(trusted, indent=1, sort_keys=True)
    write_atomically(_trusted_downloads_file(), lambda file: file.write(text.encode()))


def _how_to_provide(asset: Asset) -> str:
    return (
        f"To provide it: connect to the internet (it is downloaded from {asset.url}), "
        f"or set COURSE_ASSETS to a mirror folder holding {asset.mirror_path}, "
        f"or place a good copy at {cache_path(asset)}."
    )


def fetch(name: str, download: bool = True) -> Path:
    """Return the path of a verified copy of asset ``name``.

    Weights and the class index are placed in ``$KERAS_HOME/models`` so that
    ``keras.applications`` finds them without downloading.
    """
    asset = asset_named(name)
    copies = inspect(asset)
    good = next((c for c in copies if c.state == "ok"), None)
    if good is not None:
        assert good.path is not None
        if asset.in_keras_cache and good.source != "cache":
            _atomic_copy(good.path, cache_path(asset))
            return cache_path(asset)
        return good.path
    corrupt = any(c.state.startswith("corrupt") for c in copies)
    failure = "download not attempted"
    if download:
        try:
            return _download(asset)
        except (OSError, AssetCorruptError) as error:
            failure = f"download from {asset.url} failed: {error}"
            corrupt = corrupt or isinstance(error, AssetCorruptError)
    looked = "; ".join(f"{c.source} {c.path}: {c.state}" for c in copies)
    if corrupt:
        raise AssetCorruptError(
            f"Every copy of {asset.filename} ({asset.name}) failed its SHA-256 check and was not used. "
            f"Looked at: {looked}; {failure}. {_how_to_provide(asset)}"
        )
    mirror_note = "" if mirror_dir() is not None else " (COURSE_ASSETS is not set)"
    raise AssetMissingError(
        f"Missing file {asset.filename} ({asset.name}). Looked at: {looked}{mirror_note}; {failure}. "
        f"{_how_to_provide(asset)}"
    )


def asset_named(name: str) -> Asset:
    """The registered asset called ``name``; a ValueError lists the known names otherwise."""
    try:
        return ASSETS[name]
    except KeyError:
        raise ValueError(f"unknown asset {name!r}; expected one of: {', '.join(sorted(ASSETS))}") from None


def weights_origin(name: str) -> str:
    """Which ImageNet weights the local copy of weights asset ``name`` holds, in a sentence."""
    asset = asset_named(name)
    good = next((copy for copy in inspect(asset) if copy.state == "ok"), None)
    if good is None:
        return "not on this machine yet (Keras downloads the official file on first use)"
    if _current_hash(good.path) != asset.sha256:
        return f"the official file downloaded from {asset.url}"
    if asset.sha256 == _MOBILENET_NO_TOP_SHA:
        return ("the offline mirror's copy, which holds the weights trained at 224 px under every size's file name "
                "(the official files for 96-192 px were trained at those sizes, so figures differ a little)")
    return f"the offline mirror's copy ({good.path})"


def unavailable_locally() -> list[str]:
    """Assets with no local file at all (cheap: nothing is hashed; ``fetch`` verifies on use)."""
    return [name for name, asset in ASSETS.items() if not any(p.is_file() for _, p in candidate_paths(asset))]


def verify_all() -> dict[str, list[Copy]]:
    """Every asset with the state of each local copy (nothing is downloaded)."""
    return {name: inspect(asset) for name, asset in ASSETS.items()}


def problems(report: dict[str, list[Copy]]) -> list[str]:
    """Lines naming each asset that has no good copy or has a corrupt one."""
    lines = []
    for name, copies in report.items():
        for copy in copies:
            if copy.state.startswith("corrupt"):
                lines.append(f"{name}: CORRUPT copy at {copy.path} ({copy.state})")
        if not any(c.state == "ok" for c in copies):
            lines.append(f"{name}: MISSING locally ({_how_to_provide(ASSETS[name])})")
    return lines


# --- folder assets: a folder of class subfolders with a manifest (the flower photos) -------
#
# A folder asset is found in the same order as a file: the writable cache (where a download is
# unpacked), the mirror, then the download itself. Its ``MANIFEST.sha256`` lists every photo's
# SHA-256; a photo that is missing, unlisted or fails its checksum is reported and not used,
# while the others are. The mirror's manifest is itself pinned by its hash; the archive has no
# published checksum, so after the first download a manifest of what it unpacked is written
# (trusted once, like downloaded weights) and later runs are checked against it.

MANIFEST_NAME = "MANIFEST.sha256"


@dataclass(frozen=True)
class FolderAsset:
    """A folder of class subfolders (one per class), verified photo by photo."""

    name: str  # "flower_photos"
    mirror_path: str  # the folder inside a COURSE_ASSETS mirror
    manifest_sha256: str  # of the mirror's MANIFEST.sha256
    url: str  # the archive, downloaded and unpacked with keras.utils.get_file(..., extract=True)
    archive_folder: str  # the folder the archive unpacks to

    def cache_folder(self) -> Path:
        """Where ``keras.utils.get_file`` unpacks the archive inside the course cache."""
        return cache_dir() / "datasets" / self.name / self.archive_folder


FOLDER_ASSETS: dict[str, FolderAsset] = {
    "flower_photos": FolderAsset(
        "flower_photos", "datasets/flower_photos",
        "c8bca72e833631450ef54f7e147ebf548e101b5ff5cd7f0513c92f749d384ec1",
        "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz",
        "flower_photos",
    ),
}


@dataclass(frozen=True)
class VerifiedFolder:
    """A folder asset's copy that can be used, and the files in it that must not be."""

    name: str
    source: str  # "cache", "mirror" or "download"
    path: Path
    verified: int  # photos whose SHA-256 matches the manifest
    rejected: dict[str, str]  # path relative to the folder ("daisy/1.jpg") -> why it is not used

    def __str__(self) -> str:
        bad = f", {len(self.rejected)} rejected" if self.rejected else ""
        return f"{self.source}: {self.path} ({self.verified:,} photos verified by SHA-256{bad})"


def read_manifest(path: Path) -> dict[str, str]:
    """``sha256sum`` lines ("<hex>  ./daisy/1.jpg") as {relative path: hex digest}."""
    entries = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise AssetCorruptError(f"{path}, line {number}: expected '<sha256>  <path>', got {line[:80]!r}")
        entries[name.removeprefix("./")] = digest
    return entries


def write_manifest(folder: Path) -> None:
    """Write the folder's manifest: the SHA-256 of every file inside its class subfolders."""
    lines = [f"{payload_sha256(path, gzipped=False)}  ./{path.relative_to(folder).as_posix()}"
             for path in _files_in_class_folders(folder)]
    text = "\n".join(lines) + "\n"
    write_atomically(folder / MANIFEST_NAME, lambda file: file.write(text.encode()))


def _files_in_class_folders(folder: Path) -> list[Path]:
    return sorted(path for path in folder.glob("*/**/*") if path.is_file() and not path.name.startswith("."))


def verify_folder(asset: FolderAsset, source: str, folder: Path) -> VerifiedFolder:
    """Check every photo of ``folder`` against its manifest (AssetCorruptError when the manifest
    itself is missing or, for the mirror, not the pinned one)."""
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        raise AssetCorruptError(f"{folder} holds no {MANIFEST_NAME}, so its photos cannot be verified")
    if source == "mirror" and payload_sha256(manifest_path, gzipped=False) != asset.manifest_sha256:
        raise AssetCorruptError(f"{manifest_path} is not the manifest the course expects "
                                f"(sha256 {payload_sha256(manifest_path, gzipped=False)[:16]}..., "
                                f"expected {asset.manifest_sha256[:16]}...)")
    expected = read_manifest(manifest_path)
    on_disk = {path.relative_to(folder).as_posix(): path for path in _files_in_class_folders(folder)}
    rejected = {name: "listed in the manifest but missing" for name in expected if name not in on_disk}
    verified = 0
    for name, path in on_disk.items():
        if name not in expected:
            rejected[name] = f"not listed in {MANIFEST_NAME}"
        elif _current_hash(path) != expected[name]:
            rejected[name] = f"fails its SHA-256 check (sha256 {_current_hash(path)[:16]}..., " \
                             f"expected {expected[name][:16]}...)"
        else:
            verified += 1
    return VerifiedFolder(asset.name, source, folder, verified, rejected)


def folder_candidates(asset: FolderAsset) -> list[tuple[str, Path]]:
    """The local places to look for a folder asset, in priority order."""
    places = [("cache", asset.cache_folder())]
    mirror = mirror_dir()
    if mirror is not None:
        places.append(("mirror", mirror / asset.mirror_path))
    return places


def inspect_folder(asset: FolderAsset) -> tuple[VerifiedFolder | None, list[str]]:
    """The first usable local copy (or None) and a line for each place looked at."""
    looked = []
    for source, folder in folder_candidates(asset):
        if not folder.is_dir():
            looked.append(f"{source} {folder}: absent")
            continue
        try:
            return verify_folder(asset, source, folder), looked
        except AssetCorruptError as error:
            looked.append(f"{source} {folder}: {error}")
    return None, looked


def _download_folder(asset: FolderAsset) -> Path:
    import keras

    # extract=True is the current name of get_file's untar=True: it unpacks the .tgz. get_file falls back
    # to /tmp/.keras when the folder it is given does not exist yet, so create it first.
    cache_dir().mkdir(parents=True, exist_ok=True)
    unpacked = keras.utils.get_file(asset.name, origin=asset.url, extract=True,
                                    cache_dir=str(cache_dir()), cache_subdir="datasets")
    folder = Path(unpacked) / asset.archive_folder
    if not folder.is_dir():
        raise AssetCorruptError(f"{asset.url} unpacked to {unpacked} without the folder {asset.archive_folder}/")
    write_manifest(folder)  # trusted on first download: later runs are checked against it
    return folder


def fetch_folder(name: str, download: bool = True) -> VerifiedFolder:
    """A verified copy of folder asset ``name``: cache, then mirror, then the download."""
    try:
        asset = FOLDER_ASSETS[name]
    except KeyError:
        raise ValueError(f"unknown folder asset {name!r}; expected one of: {', '.join(FOLDER_ASSETS)}") from None
    found, looked = inspect_folder(asset)
    if found is not None:
        return found
    failure = "download not attempted"
    if download:
        try:
            return verify_folder(asset, "download", _download_folder(asset))
        except Exception as error:  # noqa: BLE001 - Keras raises a bare Exception when the fetch fails
            failure = f"download from {asset.url} failed: {error}"
    raise AssetMissingError(
        f"No usable copy of the {name} folder. Looked at: {'; '.join(looked)}; {failure}. To provide it: connect "
        f"to the internet (it is downloaded from {asset.url}), or set COURSE_ASSETS to a mirror holding "
        f"{asset.mirror_path}/ with its {MANIFEST_NAME}."
    )
