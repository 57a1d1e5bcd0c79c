"""Reading (and writing) IDX files, the format in which MNIST and Fashion-MNIST are published.

An IDX file is a big-endian header, magic number then one uint32 per dimension,
followed by the values in row-major order; the datasets ship it gzip-compressed.
MNIST images have magic 2051 (0x00000803: unsigned bytes, 3 dimensions N x 28 x
28) and labels 2049 (0x00000801: unsigned bytes, 1 dimension N). The reader checks
every byte count and raises ``IDXError`` naming the file rather than return a
partial dataset.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

LABELS_MAGIC = 2049   # 0x00000801
IMAGES_MAGIC = 2051   # 0x00000803
_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """An IDX file that cannot be read as it claims to be; the message names the file."""


def read_idx(path, expect_magic=None) -> np.ndarray:
    """The uint8 array stored in an IDX file (gzip-compressed or not), shaped as its header says.

    Only the two kinds MNIST uses are accepted: labels (magic 2049, N) and images
    (magic 2051, N x rows x cols); ``expect_magic`` narrows that to one of them.
    The array is a read-only view of the file's bytes.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise IDXError(f"{path}: {len(raw)} bytes is too short for an IDX header (at least 4 bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (LABELS_MAGIC, IMAGES_MAGIC):
        raise IDXError(
            f"{path}: magic number {magic} (0x{magic:08x}) is neither IDX labels ({LABELS_MAGIC}) nor IDX images "
            f"({IMAGES_MAGIC}). Is this the right file?"
        )
    ndim = raw[3]  # the magic's last byte; the one before (0x08) says the values are unsigned bytes
    if expect_magic is not None and magic != expect_magic:
        kind = {LABELS_MAGIC: "labels", IMAGES_MAGIC: "images"}.get(expect_magic, f"magic {expect_magic}")
        raise IDXError(f"{path}: magic number {magic} where {kind} ({expect_magic}) were expected")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: the header of a {ndim}-dimensional IDX file needs {header} bytes, the file has {len(raw)}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected, actual = math.prod(shape), len(raw) - header
    dims = " x ".join(str(d) for d in shape)
    if actual < expected:
        raise IDXError(
            f"{path}: truncated: the header says {dims} = {expected} bytes of data, but only {actual} follow. "
            "Delete the file and download it again."
        )
    if actual > expected:
        raise IDXError(f"{path}: the header says {dims} = {expected} bytes of data, but {actual - expected} more follow")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{path}: no such file") from err
    if not raw.startswith(_GZIP_MAGIC):
        return raw  # an IDX file starts with two zero bytes; this one was stored decompressed
    try:
        return gzip.decompress(raw)
    except (EOFError, zlib.error, OSError) as err:  # a cut-off stream, corrupt data, a bad header or CRC
        raise IDXError(
            f"{path}: not a valid gzip stream ({type(err).__name__}: {err}); the file is truncated or corrupt. "
            "Delete it and download it again."
        ) from err


def scale_images(pixels) -> np.ndarray:
    """uint8 pixels (N, H, W) in 0..255 to float32 (N, 1, H, W) in [-1, 1]: x / 127.5 - 1, the range of a tanh generator."""
    pixels = np.asarray(pixels)
    return (pixels[:, None].astype(np.float32) / np.float32(127.5) - np.float32(1.0))


def read_idx_images(path) -> np.ndarray:
    """Images from an IDX file (magic 2051) as float32 (N, 1, 28, 28) in [-1, 1]; any file, no checksum."""
    return scale_images(read_idx(path, expect_magic=IMAGES_MAGIC))


def read_idx_labels(path) -> np.ndarray:
    """Labels from an IDX file (magic 2049) as int64 (N,); any file, no checksum."""
    return read_idx(path, expect_magic=LABELS_MAGIC).astype(np.int64)


def write_idx(path, array, compress=True) -> Path:
    """Write uint8 labels (N,) or images (N, H, W) as an IDX file (gzip-compressed unless ``compress=False``): for subsets and tests."""
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim not in (1, 3):
        raise ValueError(f"write_idx: expected uint8 labels (N,) or images (N, H, W), got {array.dtype} {array.shape}")
    magic = LABELS_MAGIC if array.ndim == 1 else IMAGES_MAGIC
    header = b"".join(int(d).to_bytes(4, "big") for d in (magic, *array.shape))
    data = header + np.ascontiguousarray(array).tobytes()
    path = Path(path)
    # mtime=0 so the same array always gives the same bytes (and the same MD5)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path
