"""The Pillow-free PNG reader used on GPU machines that have only torch and numpy."""

import struct
import zlib

import numpy as np
import pytest

from dynhead import IMAGE_DIR
from dynhead.data import read_png_rgb8
from dynhead.errors import DynheadError


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)


def _encode(img: np.ndarray, filters) -> bytes:
    """A PNG written by hand: row y uses filter ``filters[y % len(filters)]`` (spec section 9)."""
    H, W, _ = img.shape
    flat = img.reshape(H, W * 3).astype(int)
    out = bytearray()
    for y in range(H):
        f = filters[y % len(filters)]
        prev = flat[y - 1] if y else np.zeros(W * 3, dtype=int)
        row = []
        for x in range(W * 3):
            a = flat[y, x - 3] if x >= 3 else 0
            b = prev[x]
            c = prev[x - 3] if x >= 3 else 0
            pred = (0, a, b, (a + b) // 2, _paeth(a, b, c))[f]
            row.append((flat[y, x] - pred) & 255)
        out += bytes([f]) + bytes(row)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(out))) + chunk(b"IEND", b""))


@pytest.mark.parametrize("filters", [(0,), (1,), (2,), (3,), (4,), (0, 1, 2, 3, 4)])
def test_every_filter_type_round_trips(tmp_path, filters):
    img = (np.random.default_rng(len(filters)).random((9, 7, 3)) * 255).astype(np.uint8)
    p = tmp_path / "x.png"
    p.write_bytes(_encode(img, filters))
    assert np.array_equal(read_png_rgb8(p), img)


def test_shipped_images_match_pillow():
    Image = pytest.importorskip("PIL.Image")
    for p in sorted(IMAGE_DIR.glob("*.png")):
        assert np.array_equal(read_png_rgb8(p), np.asarray(Image.open(p)))


def test_unsupported_and_corrupt_png(tmp_path):
    p = tmp_path / "g.png"
    body = _encode(np.zeros((2, 2, 3), np.uint8), (0,)).replace(struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0),
                                                                 struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
    p.write_bytes(body)
    with pytest.raises(DynheadError, match="colour type 0"):
        read_png_rgb8(p)
    p.write_bytes(b"not a png")
    with pytest.raises(DynheadError, match="not a PNG"):
        read_png_rgb8(p)
