"""Synthetic detection data generated in code, and image-folder loading.

Each image: a textured background (colour gradient + random sinusoidal gratings + smoothed
noise) with 1..max_objects non-overlapping objects of ``CLASSES`` (filled rectangle, ellipse,
triangle, cross) at several scales, random colours and aspect ratios.  Boxes are the exact
bounding boxes of the rasterised object pixels, (x0, y0, x1, y1) with x1/y1 exclusive, in pixels;
objects never overlap, so no box is occluded.  Everything is a pure function of
(split, seed, index): the "val" split uses a disjoint seed stream (held out).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np

from workloads.limits import check as check_cap

from .errors import DynheadError

CLASSES = ("rectangle", "ellipse", "triangle", "cross")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def _seed(split: str, seed: int, index: int) -> np.random.Generator:
    h = hashlib.sha256(f"{split}/{seed}/{index}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def _smooth_noise(rng, H, W, cells):
    """Bilinearly upsampled low-resolution noise: a cheap natural-looking texture in [0, 1]."""
    g = rng.random((cells + 1, cells + 1))
    ys = np.linspace(0, cells, H)
    xs = np.linspace(0, cells, W)
    y0 = np.minimum(ys.astype(int), cells - 1)
    x0 = np.minimum(xs.astype(int), cells - 1)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    a = g[y0][:, x0]
    b = g[y0][:, x0 + 1]
    c = g[y0 + 1][:, x0]
    d = g[y0 + 1][:, x0 + 1]
    return a * (1 - fy) * (1 - fx) + b * (1 - fy) * fx + c * fy * (1 - fx) + d * fy * fx


def background(rng, H, W) -> np.ndarray:
    """Textured background (H, W, 3) float in [0, 255]."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    base = rng.uniform(40, 215, 3)
    grad = rng.normal(0, 40, (2, 3))
    img = base + (yy / H - 0.5)[..., None] * grad[0] + (xx / W - 0.5)[..., None] * grad[1]
    for _ in range(rng.integers(1, 4)):  # gratings
        th = rng.uniform(0, np.pi)
        f = rng.uniform(0.05, 0.4)
        amp = rng.uniform(5, 30)
        img += (amp * np.sin(f * (np.cos(th) * xx + np.sin(th) * yy) + rng.uniform(0, 6.3)))[..., None] \
            * rng.uniform(0.5, 1.0, 3)
    img += (_smooth_noise(rng, H, W, int(rng.integers(3, 12))) - 0.5)[..., None] * rng.uniform(20, 70, 3)
    img += rng.normal(0, 4, (H, W, 3))
    return np.clip(img, 0, 255)


def shape_mask(kind: int, h: int, w: int, rng) -> np.ndarray:
    """Boolean (h, w) mask of one object of class ``kind`` filling its h x w window."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    if kind == 0:  # rectangle
        m = np.ones((h, w), bool)
    elif kind == 1:  # ellipse
        m = ((yy - cy) / (h / 2)) ** 2 + ((xx - cx) / (w / 2)) ** 2 <= 1.0
    elif kind == 2:  # triangle, apex up or down
        t = (yy + 0.5) / h
        if rng.random() < 0.5:
            t = 1 - t
        m = np.abs(xx - cx) <= t * w / 2
    else:  # cross: two bars of random thickness
        th = rng.uniform(0.25, 0.4)
        m = (np.abs(yy - cy) <= th * h / 2) | (np.abs(xx - cx) <= th * w / 2)
    return m


def make_image(split: str, seed: int, index: int, size=(160, 160), max_objects: int = 4,
               min_size: int = 10, max_size: int | None = None, num_classes: int = 4):
    """(image uint8 (H, W, 3), boxes float32 (n, 4) xyxy exclusive, labels int64 (n,))."""
    rng = _seed(split, seed, index)
    H, W = size
    max_size = max_size or int(0.7 * min(H, W))
    img = background(rng, H, W)
    occ = np.zeros((H, W), bool)
    boxes, labels = [], []
    n = int(rng.integers(1, max_objects + 1))
    for _ in range(n):
        for _try in range(20):
            s = np.exp(rng.uniform(np.log(min_size), np.log(max_size)))
            ar = np.exp(rng.uniform(-0.4, 0.4))
            h = int(np.clip(round(s * ar), 6, H - 2))
            w = int(np.clip(round(s / ar), 6, W - 2))
            y0 = int(rng.integers(0, H - h + 1))
            x0 = int(rng.integers(0, W - w + 1))
            k = int(rng.integers(0, num_classes))
            m = shape_mask(k, h, w, rng)
            full = np.zeros((H, W), bool)
            full[y0:y0 + h, x0:x0 + w] = m
            # keep a 2-pixel gap so objects never touch or occlude each other
            pad = np.zeros_like(occ)
            pad[max(0, y0 - 2):y0 + h + 2, max(0, x0 - 2):x0 + w + 2] = True
            if (pad & occ).any() or not m.any():
                continue
            col = rng.uniform(0, 255, 3)
            while np.abs(col - img[full].mean(0)).sum() < 120:  # contrast with what it covers
                col = rng.uniform(0, 255, 3)
            tex = rng.normal(0, 6, (int(full.sum()), 3))
            img[full] = np.clip(col + tex, 0, 255)
            occ |= full
            ys, xs = np.nonzero(full)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            labels.append(k)
            break
    return (img.round().astype(np.uint8), np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(labels, np.int64))


class SyntheticDetection:
    """Indexable synthetic detection split (generated on the fly, deterministic)."""

    def __init__(self, n: int, split: str = "train", seed: int = 0, size=(160, 160), num_classes: int = 4,
                 max_objects: int = 4, min_size: int = 10, max_size: int | None = None):
        if split not in ("train", "val"):
            raise DynheadError(f"split must be train or val, got {split!r}", field="split")
        if not 1 <= num_classes <= len(CLASSES):
            raise DynheadError(f"num_classes must be 1..{len(CLASSES)}, got {num_classes}", field="num_classes")
        self.n, self.split, self.seed, self.size = n, split, seed, tuple(size)
        self.kw = dict(max_objects=max_objects, min_size=min_size, max_size=max_size, num_classes=num_classes)
        self.num_classes = num_classes

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return make_image(self.split, self.seed, i, self.size, **self.kw)

    def describe(self) -> dict:
        return {"generator": "dynhead.data.make_image", "split": self.split, "seed": self.seed, "n": self.n,
                "size": list(self.size), "classes": list(CLASSES[:self.num_classes]), **self.kw}


# ------------------------------------------------------------------------- image files
def check_image_array(img, name: str = "image") -> np.ndarray:
    """An RGB image as uint8 (H, W, 3); accepts uint8 or float in 0..255, (H, W, 3) or (3, H, W)."""
    try:
        import torch
        if isinstance(img, torch.Tensor):
            img = img.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[0] == 3 and a.shape[-1] != 3:
        a = a.transpose(1, 2, 0)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise DynheadError(f"image is not RGB: shape {a.shape}, expected (H, W, 3)", field=name)
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all():
            raise DynheadError(f"image has non-finite or non-numeric values ({a.dtype})", field=name)
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    return a


def check_image_size(width: int, height: int, path) -> None:
    """Refuse an image of more than ``max_image_pixels`` pixels from its header, before decoding it (a
    236 KB PNG can decode to gigabytes)."""
    check_cap("max_image_pixels", width * height, f"image of {width}x{height} pixels", file=str(path),
              error=DynheadError)


def _open_unguarded(Image, path):
    """``Image.open`` with PIL's decompression-bomb guard (a warning above 89 M pixels, an error above twice
    that) left to :func:`check_image_size`, so ``max_image_pixels`` alone decides and no warning line
    reaches stderr."""
    saved = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = None
            return Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def read_image(path) -> np.ndarray:
    """An RGB image file as uint8 (H, W, 3).  PIL reads any format; without PIL (a GPU machine with
    only torch + numpy) 8-bit RGB PNGs, like the shipped samples, are read by :func:`read_png_rgb8`.
    The size in the header is checked against ``max_image_pixels`` (:mod:`workloads.limits`) first."""
    path = Path(path)
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        if path.suffix.lower() != ".png":
            raise DynheadError("reading non-PNG images needs Pillow (pip install pillow)", file=str(path)) from None
        return read_png_rgb8(path)
    try:
        with _open_unguarded(Image, path) as im:  # reads the header only
            check_image_size(*im.size, path)
            if im.mode != "RGB":
                raise DynheadError(f"image is not RGB (PIL mode {im.mode}); convert it to 3-channel RGB",
                                   file=str(path))
            return np.asarray(im).copy()
    except DynheadError:
        raise
    except Image.DecompressionBombError as e:  # PIL's own guard, above twice its MAX_IMAGE_PIXELS
        raise DynheadError(f"image too large to decode ({' '.join(str(e).split())[:160]})", file=str(path)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:  # SyntaxError: PIL's corrupt-header error
        raise DynheadError(f"cannot read image ({type(e).__name__})", file=str(path)) from None


def read_png_rgb8(path) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB PNG with zlib and numpy only (PNG spec, ISO/IEC 15948:
    chunks, IDAT zlib stream, per-row filters None/Sub/Up/Average/Paeth)."""
    import struct
    import zlib
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DynheadError(f"cannot read ({e.strerror or type(e).__name__})", file=str(path)) from None
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise DynheadError("not a PNG file", file=str(path))
    pos, idat, hdr = 8, [], None
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            if len(body) != 13:
                raise DynheadError("corrupt PNG header (IHDR)", file=str(path))
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    if hdr is None or not idat:
        raise DynheadError("truncated PNG (no IHDR or IDAT)", file=str(path))
    W, H, depth, ctype, _, _, interlace = hdr
    if (depth, ctype, interlace) != (8, 2, 0):
        raise DynheadError(f"PNG is not 8-bit non-interlaced RGB (depth {depth}, colour type {ctype}, interlace "
                           f"{interlace}); without Pillow only those can be read", file=str(path))
    if W < 1 or H < 1:
        raise DynheadError(f"PNG header says {W}x{H} pixels", file=str(path))
    check_image_size(W, H, path)
    stride = W * 3
    try:  # inflate no more than the header promises: a corrupt stream cannot grow past it
        z = zlib.decompressobj()
        raw = z.decompress(b"".join(idat), H * (stride + 1) + 1)
        raw = np.frombuffer(raw, dtype=np.uint8)
    except zlib.error:
        raise DynheadError("corrupt PNG data", file=str(path)) from None
    if raw.size != H * (stride + 1):
        raise DynheadError("PNG data size does not match its header", file=str(path))
    rows = raw.reshape(H, stride + 1)
    out = np.zeros((H, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(H):
        f, line = int(rows[y, 0]), rows[y, 1:]
        if f == 0:
            cur = line.copy()
        elif f == 1:    # Sub: running sum per channel, modulo 256
            cur = np.cumsum(line.reshape(W, 3), axis=0, dtype=np.uint8).reshape(-1)
        elif f == 2:    # Up
            cur = line + prev
        elif f in (3, 4):
            cur = np.zeros(stride, dtype=np.int32)
            ln, up = line.astype(np.int32), prev.astype(np.int32)
            for x in range(0, stride, 3):
                a = cur[x - 3:x] if x else np.zeros(3, dtype=np.int32)
                b = up[x:x + 3]
                if f == 3:  # Average
                    cur[x:x + 3] = (ln[x:x + 3] + (a + b) // 2) & 255
                else:       # Paeth
                    c = up[x - 3:x] if x else np.zeros(3, dtype=np.int32)
                    p = a + b - c
                    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
                    pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
                    cur[x:x + 3] = (ln[x:x + 3] + pred) & 255
            cur = cur.astype(np.uint8)
        else:
            raise DynheadError(f"unknown PNG filter {f} in row {y}", file=str(path))
        out[y] = cur
        prev = cur
    return out.reshape(H, W, 3)


def image_files(folder) -> list[Path]:
    """The image files (``IMAGE_SUFFIXES``) of ``folder``, sorted by name; none decoded."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DynheadError("image folder not found", file=str(folder))
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    except OSError as e:
        raise DynheadError(f"cannot list the folder ({e.strerror or type(e).__name__})", file=str(folder)) from None
    if not files:
        raise DynheadError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in the folder", file=str(folder))
    return files


def load_image_folder(folder, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """[(file name, uint8 RGB array)] for the first ``limit`` images of ``folder`` (all when None), sorted
    by name; only those are decoded."""
    if limit is not None and limit < 1:
        raise DynheadError(f"image count must be >= 1, got {limit}", field="limit")
    return [(p.name, read_image(p)) for p in image_files(folder)[:limit]]


def save_png(path, img: np.ndarray):
    from PIL import Image
    Image.fromarray(check_image_array(img)).save(path, optimize=True)
