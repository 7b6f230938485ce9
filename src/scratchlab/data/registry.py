"""The datasets scratchlab knows: where to download them, their checksums, their splits.

`DATASETS[name]` is a `DatasetSpec`. Files are described by `FileSpec`s holding the
official download URLs (mirrors in order of preference) and the official md5 sums, so a
file found on disk can be verified and a missing one fetched.

- ``cifar10``: any ONE of the three official archives (python, matlab, binary); each
  holds the parts ``data_batch_1..5`` and ``test_batch`` plus a meta file with the
  class names. Image rows are (3072,) channel-major, ``image_shape = (3, 32, 32)``.
- ``mnist`` / ``fashion-mnist``: ALL four official IDX files (gzipped) give the parts
  ``train`` (60,000) and ``test`` (10,000), ``image_shape = (1, 28, 28)``.
- ``digits``: scikit-learn's bundled 8x8 digits (offline), parts ``train`` / ``test``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from scratchlab.errors import ConfigError

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"
MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)

CIFAR_PARTS = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CIFAR_FORMATS = ("python", "binary", "matlab")  # search and default-download order

# md5 of the files inside the official python archive (as torchvision also lists them);
# lets an extracted `cifar-10-batches-py` folder be verified file by file.
CIFAR_PY_MEMBER_MD5 = MappingProxyType(
    {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    }
)

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGIT_CLASSES = tuple(str(i) for i in range(10))


@dataclass(frozen=True)
class FileSpec:
    """One official file: its name, md5 and download URLs (mirrors, in order).

    `format` is the CIFAR archive flavour (``python``/``matlab``/``binary``) or ``idx``;
    for IDX files `part` (``train``/``test``) and `role` (``images``/``labels``) say
    what the file holds.
    """

    filename: str
    md5: str
    urls: tuple[str, ...]
    format: str
    part: str = ""
    role: str = ""

    @property
    def stem(self) -> str:
        """The name without ``.gz`` / ``.tar.gz`` (e.g. ``train-images-idx3-ubyte``)."""
        for suffix in (".tar.gz", ".gz"):
            if self.filename.endswith(suffix):
                return self.filename[: -len(suffix)]
        return self.filename


@dataclass(frozen=True)
class DatasetSpec:
    """What scratchlab knows about one dataset.

    `files`: for ``kind == "cifar"`` alternative archives (any one suffices); for
    ``kind == "idx"`` the files that are all needed. `splits[0]` is the default split.
    `aliases`: folder names to look for under ``$SCRATCHLAB_DATA`` (besides `name`).
    `class_names` is empty when the names come from the dataset's meta file.
    """

    name: str
    title: str
    kind: str  # "cifar" | "idx" | "sklearn"
    image_shape: tuple[int, int, int]
    parts: tuple[str, ...]
    splits: tuple[str, ...]
    files: tuple[FileSpec, ...] = ()
    class_names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    homepage: str = ""
    n_classes: int = 10
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        """Features per image, ``C * H * W``."""
        c, h, w = self.image_shape
        return c * h * w

    @property
    def default_split(self) -> str:
        return self.splits[0]

    def file(self, filename: str) -> FileSpec | None:
        """The FileSpec with this file name, or None."""
        return next((f for f in self.files if f.filename == filename), None)


def _cifar_files() -> tuple[FileSpec, ...]:
    md5 = {
        "python": "c58f30108f718f92721af3b95e74349a",
        "binary": "c32a1d4ab5d03f1284b67883e8d87530",
        "matlab": "70270af85842c9e89bb428ec9976c926",
    }
    return tuple(
        FileSpec(f"cifar-10-{f}.tar.gz", md5[f], (f"{CIFAR_URL}cifar-10-{f}.tar.gz",), f)
        for f in CIFAR_FORMATS
    )


def _idx_files(md5s: dict[str, str], mirrors: tuple[str, ...]) -> tuple[FileSpec, ...]:
    files = []
    for stem, digest in md5s.items():
        part = "train" if stem.startswith("train") else "test"
        role = "images" if "images" in stem else "labels"
        name = f"{stem}.gz"
        files.append(FileSpec(name, digest, tuple(m + name for m in mirrors), "idx", part, role))
    return tuple(files)


_MNIST_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
_FASHION_MD5 = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
_IDX_SPLITS = ("standard", "full")

DATASETS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec(
        name="cifar10",
        title="CIFAR-10",
        kind="cifar",
        image_shape=(3, 32, 32),
        parts=CIFAR_PARTS,
        splits=("a1", "all"),
        files=_cifar_files(),
        aliases=("cifar-10", "CIFAR10", "CIFAR-10", "cifar"),
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        notes={
            "a1": "train data_batch_1, val data_batch_2, test test_batch",
            "all": "train data_batch_1..5 minus val_size seeded images, test test_batch",
        },
    ),
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST",
        kind="idx",
        image_shape=(1, 28, 28),
        parts=("train", "test"),
        splits=_IDX_SPLITS,
        files=_idx_files(_MNIST_MD5, MNIST_URLS),
        class_names=DIGIT_CLASSES,
        aliases=("MNIST", "MNIST/raw"),
        homepage="http://yann.lecun.com/exdb/mnist/",
        notes={
            "standard": "train first 50,000, val last 10,000 of train, test t10k",
            "full": "train all 60,000, no val, test t10k",
        },
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        kind="idx",
        image_shape=(1, 28, 28),
        parts=("train", "test"),
        splits=_IDX_SPLITS,
        files=_idx_files(_FASHION_MD5, FASHION_URLS),
        class_names=FASHION_CLASSES,
        aliases=("fashion_mnist", "FashionMNIST", "FashionMNIST/raw", "fashion"),
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        notes={
            "standard": "train first 50,000, val last 10,000 of train, test t10k",
            "full": "train all 60,000, no val, test t10k",
        },
    ),
    "digits": DatasetSpec(
        name="digits",
        title="scikit-learn digits (8x8)",
        kind="sklearn",
        image_shape=(1, 8, 8),
        parts=("train", "test"),
        splits=("standard", "full"),
        class_names=DIGIT_CLASSES,
        homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html",
        notes={
            "standard": "train first 80% of the fixed train part, val its last 20%",
            "full": "train the whole train part, no val",
        },
    ),
}


def get_spec(name: str) -> DatasetSpec:
    """`DATASETS[name]`, or a ConfigError listing the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(DATASETS)
        raise ConfigError(f"unknown dataset {name!r}; use one of: {known}") from None


def check_split(spec: DatasetSpec, split: str) -> str:
    """Return `split` if `spec` has it, else raise a ConfigError listing its splits."""
    if split not in spec.splits:
        raise ConfigError(
            f"{split!r} is not a split of {spec.name}; use one of: {', '.join(spec.splits)}"
        )
    return split
