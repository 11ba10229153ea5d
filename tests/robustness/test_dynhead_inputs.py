"""Bad input to dynhead's loaders: a checkpoint's ``config`` (types, choices, ranges, the size of the model
it describes), image files (decompression bombs checked from the header, corrupt files, the PNG reader
used without Pillow), image folders (only the images used are decoded) and Ctrl-C in ``python -m dynhead``.

Each ends in one :class:`DynheadError` line naming the file (where there is one) and the field, exit 2 from
the CLI (130 for Ctrl-C), no traceback, nothing left behind, bounded memory.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

import conftest as rb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from dynhead.checkpoint import load_model, save_checkpoint  # noqa: E402
from dynhead.data import load_image_folder, read_image, read_png_rgb8, save_png  # noqa: E402
from dynhead.errors import DynheadError  # noqa: E402
from dynhead.model import FCOS, ModelConfig  # noqa: E402
from dynhead.train import small_config  # noqa: E402

torch.set_num_threads(1)  # the machine is shared (tests/dynhead's fixture does this for its own folder)


# ------------------------------------------------------------------------------------ config values
CONFIG_CASES = [
    # (field, bad value, substring of the reason)
    ("channels", -32, "must be in"), ("channels", 0, "must be in"), ("channels", 10 ** 9, "must be in"),
    ("channels", "32", "integer"), ("channels", 32.0, "integer"), ("channels", True, "integer"),
    ("channels", None, "integer"), ("channels", [32], "integer"), ("channels", 36, "multiple of gn_groups"),
    ("depth", 0, "must be in"), ("depth", -1, "must be in"), ("depth", 10 ** 6, "must be in"), ("depth", 2.5, "integer"),
    ("num_classes", 0, "must be in"), ("num_classes", 10 ** 12, "must be in"), ("num_classes", "4", "integer"),
    ("gn_groups", 0, "must be in"), ("gn_groups", -8, "must be in"),
    ("backbone_width", 0, "must be in"), ("backbone_width", 10 ** 7, "must be in"),
    ("backbone_depth", 34, "one of"), ("backbone_depth", "18", "one of"), ("backbone_depth", 18.0, "one of"),
    ("backbone_norm", "LayerNorm", "one of"), ("backbone_norm", 1, "one of"),
    ("head", "retina", "one of"), ("head", None, "one of"),
    ("gate_activation", "relu", "one of"), ("gate_activation", ["geretanh"], "one of"),
    ("input_format", "YUV", "one of"), ("stride_in_1x1", "yes", "one of"), ("stride_in_1x1", 1, "one of"),
    ("num_adjacent_scales", 3, "one of"), ("num_adjacent_scales", 2.0, "one of"), ("num_adjacent_scales", 0, "one of"),
    ("tau", math.nan, "number"), ("tau", math.inf, "number"), ("tau", -1.0, "number"), ("tau", 0, "number"),
    ("tau", "1.5", "number"), ("tau", 1e308, "number"),
    ("focal_alpha", 2.0, "number"), ("focal_gamma", -1, "number"), ("budget_lambda", math.inf, "number"),
    ("budget_lambda", -0.5, "number"), ("center_sample_radius", math.nan, "number"),
    ("pixel_mean", [1, 2], "3 finite"), ("pixel_mean", [math.nan, 1, 1], "3 finite"), ("pixel_mean", "abc", "3 finite"),
    ("pixel_mean", ["1", 2, 3], "3 finite"), ("pixel_std", [0, 1, 1], "> 0"), ("pixel_std", [1, -1, 1], "> 0"),
    ("pixel_std", [1, math.inf, 1], "3 finite"),
    ("size_ranges", "x", "pairs"), ("size_ranges", [[1, 2]], "pairs"), ("size_ranges", [[2, 1]] * 5, "pairs"),
    ("size_ranges", [[math.nan, 1]] * 5, "pairs"), ("size_ranges", [1, 2, 3, 4, 5], "pairs"),
    ("size_ranges", [["a", "b"]] * 5, "pairs"),
]


@pytest.mark.parametrize("field, value, reason", CONFIG_CASES,
                         ids=[f"{f}={v!r}"[:40] for f, v, _ in CONFIG_CASES])
def test_config_values(field, value, reason):
    d = {**small_config().to_dict(), field: value}
    rb.raises_one_line(DynheadError, ModelConfig.from_dict, d, must=(f"config.{field}", reason))


@pytest.mark.parametrize("cfg, must", [([1, 2], "dict"), ("config", "dict"), ({"bogus": 1}, "bogus"),
                                       ({1: 2}, "unknown")], ids=["list", "string", "unknown-field", "int-key"])
def test_config_shape(cfg, must):
    with pytest.raises(DynheadError) as e:
        ModelConfig.from_dict(cfg)
    assert must in rb.one_line(e.value)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    p = tmp_path_factory.mktemp("ck") / "m.pt"
    save_checkpoint(FCOS(small_config(depth=1)), p)
    return p


def _with_config(src, dst, **fields) -> Path:
    obj = torch.load(src, weights_only=True)
    obj["config"] = {**obj["config"], **fields} if fields.pop("_merge", True) else fields
    torch.save(obj, dst)
    return dst


CHECKPOINT_CASES = [
    # a config that would need 10^12 parameters: refused on the meta-device model, nothing allocated
    ("channels-65536", dict(channels=65536), ["max_model_parameters", "config"]),
    ("depth-256-channels-4096", dict(channels=4096, depth=256, gn_groups=32), ["max_model_parameters", "at least"]),
    ("depth-200-channels-256", dict(channels=256, depth=200, gn_groups=32), ["max_model_parameters", "at least"]),
    ("classes-1e6-channels-4096", dict(channels=4096, num_classes=10 ** 6, gn_groups=32), ["max_model_parameters"]),
    # a valid, small config that does not fit the stored weights: refused before the model is built
    ("channels-64", dict(channels=64), ["does not fit", "shape mismatch"]),
    ("depth-3", dict(depth=3), ["does not fit", "missing key"]),
    ("negative-channels", dict(channels=-32), ["config.channels"]),
    ("nan-tau", dict(tau=math.nan), ["config.tau"]),
    ("string-depth", dict(depth="1"), ["config.depth"]),
]


@pytest.mark.parametrize("fields, must", [c[1:] for c in CHECKPOINT_CASES], ids=[c[0] for c in CHECKPOINT_CASES])
def test_checkpoint_config(ckpt, tmp_path, fields, must):
    p = _with_config(ckpt, tmp_path / "bad.pt", **fields)
    rb.raises_one_line(DynheadError, load_model, p, must=(str(p), *must))


@pytest.mark.parametrize("config", [[1, 2], "small", 7], ids=["list", "string", "int"])
def test_checkpoint_config_not_a_dict(ckpt, tmp_path, config):
    obj = torch.load(ckpt, weights_only=True)
    obj["config"] = config
    torch.save(obj, tmp_path / "c.pt")
    with pytest.raises(DynheadError) as e:
        load_model(tmp_path / "c.pt")
    assert str(tmp_path / "c.pt") in rb.one_line(e.value) and "config" in str(e.value)


@pytest.mark.parametrize("what", ["folder", "empty", "text", "truncated", "list"])
def test_checkpoint_file(ckpt, tmp_path, what):
    p = tmp_path / "c.pt"
    if what == "folder":
        p.mkdir()
    elif what == "empty":
        p.write_bytes(b"")
    elif what == "text":
        p.write_text("hello")
    elif what == "truncated":
        p.write_bytes(ckpt.read_bytes()[:5000])
    else:
        torch.save([1, 2, 3], p)
    with pytest.raises(DynheadError) as e:
        load_model(p)
    assert str(p) in rb.one_line(e.value)


def test_interrupted_checkpoint_write_leaves_nothing(tmp_path, monkeypatch):
    import dynhead.checkpoint as ck

    def killed(obj, f, *a, **k):
        Path(f).write_bytes(b"partial")
        raise KeyboardInterrupt
    monkeypatch.setattr(ck.torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(FCOS(small_config(depth=1)), tmp_path / "m.pt")
    rb.assert_no_leftovers(tmp_path)


@rb.robust_settings
@given(field=st.sampled_from(sorted(ModelConfig.__dataclass_fields__)),
       value=st.one_of(st.none(), st.booleans(), st.integers(-10, 10 ** 7), st.floats(), st.text(max_size=6),
                       st.lists(st.integers(-5, 300), max_size=6)))
def test_hypothesis_config(field, value):
    """Any value in any field: refused in one line, or a config whose model builds (on the meta device)."""
    d = {**small_config().to_dict(), field: value}
    try:
        cfg = ModelConfig.from_dict(d)
    except DynheadError as e:
        assert f"config.{field}" in rb.one_line(e) or "config" in str(e)
        return
    with torch.device("meta"):
        FCOS(cfg)


# ------------------------------------------------------------------------------------------- images
def zlib_zeros(n: int) -> bytes:
    """A zlib stream of ``n`` zero bytes, built from one repeated full-flush block (a gigabyte in
    milliseconds) with its Adler-32 computed in closed form (zeros: a = 1, b = n mod 65521)."""
    block = 1 << 20
    if n < 2 * block:
        return zlib.compress(bytes(n), 9)
    c = zlib.compressobj(9)
    first = c.compress(bytes(block)) + c.flush(zlib.Z_FULL_FLUSH)
    rep = c.compress(bytes(block)) + c.flush(zlib.Z_FULL_FLUSH)
    k, r = divmod(n, block)
    tail = c.compress(bytes(r)) + c.flush(zlib.Z_FINISH)
    return first + rep * (k - 1) + tail[:-4] + (((n % 65521) << 16) | 1).to_bytes(4, "big")


def test_zlib_zeros_is_a_valid_stream():
    n = (5 << 20) + 123
    assert zlib.decompress(zlib_zeros(n)) == bytes(n)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(W: int, H: int, idat: bytes | None = None, depth=8, ctype=2, interlace=0, ihdr: bytes | None = None) -> bytes:
    """A PNG file; ``idat`` default: all-black rows (filter 0) for an 8-bit RGB image, compressed."""
    if idat is None:
        idat = zlib_zeros(H * (W * 3 + 1))
    ihdr = ihdr if ihdr is not None else struct.pack(">IIBBBBB", W, H, depth, ctype, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def bmp_header(W: int, H: int) -> bytes:
    """A 24-bit BMP header announcing W x H pixels, with no pixel data."""
    return (b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
            + struct.pack("<IiiHHIIiiII", 40, W, H, 1, 24, 0, 0, 2835, 2835, 0, 0))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A 2.4 MB PNG that decodes to 2.4 GB (30000 x 27000 RGB): every byte of it a valid image."""
    d = tmp_path_factory.mktemp("bomb")
    p = d / "bomb.png"
    p.write_bytes(png(30_000, 27_000))
    assert p.stat().st_size < 3_000_000
    return p


@pytest.fixture(scope="module")
def mid_bomb(tmp_path_factory) -> Path:
    """10000 x 10000 (300 MB decoded): above max_image_pixels, below PIL's own guard (which only warns)."""
    p = tmp_path_factory.mktemp("mid") / "mid.png"
    p.write_bytes(png(10_000, 10_000))
    return p


def _image_error(path, reader=read_image, *must) -> str:
    return rb.raises_one_line(DynheadError, reader, path, must=(str(path), *must))


@pytest.mark.parametrize("reader", [read_image, read_png_rgb8], ids=["pillow", "fallback"])
@pytest.mark.parametrize("which", ["bomb", "mid_bomb"])
def test_image_bombs_refused_from_the_header(request, reader, which):
    _image_error(request.getfixturevalue(which), reader, "max_image_pixels", "ACCELSIM_LIMITS")


def test_bmp_header_bomb(tmp_path):
    p = tmp_path / "b.bmp"
    p.write_bytes(bmp_header(60_000, 60_000))
    _image_error(p, read_image, "max_image_pixels")


def test_pil_decompression_bomb_error_is_one_line(tmp_path, monkeypatch):
    from PIL import Image

    def bomb_open(*a, **k):
        raise Image.DecompressionBombError("Image size (900000000 pixels) exceeds limit of 178956970 pixels, "
                                           "could be decompression bomb DOS attack.")
    monkeypatch.setattr(Image, "open", bomb_open)
    p = tmp_path / "x.png"
    p.write_bytes(png(4, 4))
    _image_error(p, read_image, "too large")


def test_image_cap_is_configurable(tmp_path, monkeypatch):
    p = tmp_path / "s.png"
    p.write_bytes(png(20, 10))
    assert read_image(p).shape == (10, 20, 3)
    monkeypatch.setenv("ACCELSIM_LIMITS", "max_image_pixels=199")
    _image_error(p, read_image, "max_image_pixels=199", "20x10")


def _gray_png(p):
    from PIL import Image
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(p)


def _rgba_png(p):
    from PIL import Image
    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(p)


def _palette_png(p):
    from PIL import Image
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).convert("P").save(p)


IMAGE_CASES = [
    ("empty", lambda p: p.write_bytes(b""), "cannot read image"),
    ("text", lambda p: p.write_text("not an image"), "cannot read image"),
    ("truncated", lambda p: p.write_bytes(png(64, 64)[:40]), ""),
    ("random", lambda p: p.write_bytes(np.random.default_rng(0).bytes(300)), "cannot read image"),
    ("gray", _gray_png, "not RGB"),
    ("rgba", _rgba_png, "not RGB"),
    ("palette", _palette_png, "not RGB"),
    ("bad-crc", lambda p: p.write_bytes(png(4, 4)[:-20] + b"\0\0\0\0" + png(4, 4)[-16:]), ""),
]


@pytest.mark.parametrize("make, must", [c[1:] for c in IMAGE_CASES], ids=[c[0] for c in IMAGE_CASES])
def test_bad_image_files(tmp_path, make, must):
    p = tmp_path / "x.png"
    make(p)
    _image_error(p, read_image, must)


PNG_FALLBACK_CASES = [
    ("not-png", b"GIF89a" + b"\0" * 40, "not a PNG"),
    ("no-idat", b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)), "truncated"),
    ("short-ihdr", png(4, 4, ihdr=b"\0\0\0\4"), "IHDR"),
    ("zero-width", png(0, 4, idat=zlib.compress(b"\0" * 4)), "0x4"),
    ("gray", png(4, 4, ctype=0, idat=zlib.compress(b"\0" * 20)), "not 8-bit"),
    ("interlaced", png(4, 4, interlace=1), "not 8-bit"),
    ("16-bit", png(4, 4, depth=16), "not 8-bit"),
    ("bad-filter", png(2, 1, idat=zlib.compress(b"\x07" + b"\0" * 6)), "filter 7"),
    ("corrupt-zlib", png(4, 4, idat=b"\x78\x9c\xff\xff\xff"), "corrupt PNG data"),
    ("short-data", png(4, 4, idat=zlib.compress(b"\0" * 10)), "does not match"),
    ("long-data", png(4, 4, idat=zlib_zeros(50 << 20)), "does not match"),  # inflates only what the header says
]


@pytest.mark.parametrize("data, must", [c[1:] for c in PNG_FALLBACK_CASES], ids=[c[0] for c in PNG_FALLBACK_CASES])
def test_png_fallback_reader(tmp_path, data, must):
    p = tmp_path / "x.png"
    p.write_bytes(data)
    _image_error(p, read_png_rgb8, must)


@rb.robust_settings
@given(W=st.integers(0, 70_000), H=st.integers(0, 70_000), depth=st.sampled_from([1, 8, 16]),
       ctype=st.sampled_from([0, 2, 3, 6]), interlace=st.integers(0, 1), body=st.binary(max_size=64))
def test_hypothesis_png(tmp_path_factory, W, H, depth, ctype, interlace, body):
    """Any header and any (small) data: an RGB array of the header's size, or one line naming the file."""
    p = tmp_path_factory.mktemp("png") / "h.png"
    p.write_bytes(png(W, H, idat=zlib.compress(body), depth=depth, ctype=ctype, interlace=interlace))
    for reader in (read_image, read_png_rgb8):
        try:
            a = reader(p)
        except DynheadError as e:
            assert str(p) in rb.one_line(e)
            continue
        assert a.shape == (H, W, 3) and a.dtype == np.uint8


# --------------------------------------------------------------------------------------- image folders
def _folder(tmp_path, n_good=2, corrupt_last=True) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(n_good):
        save_png(d / f"a{i}.png", np.full((8, 8, 3), 40 * i, np.uint8))
    if corrupt_last:
        (d / "z_corrupt.png").write_bytes(b"not a png")
    return d


def test_folder_decodes_only_the_images_asked_for(tmp_path):
    """A folder whose third image is corrupt: the first two load without touching it."""
    d = _folder(tmp_path)
    got = load_image_folder(d, limit=2)
    assert [n for n, _ in got] == ["a0.png", "a1.png"]
    with pytest.raises(DynheadError, match="z_corrupt.png"):
        load_image_folder(d)


def test_folder_decode_count(tmp_path, monkeypatch):
    import dynhead.data as data
    d = _folder(tmp_path, n_good=5, corrupt_last=False)
    calls = []
    real = data.read_image
    monkeypatch.setattr(data, "read_image", lambda p: calls.append(p) or real(p))
    load_image_folder(d, limit=2)
    assert len(calls) == 2


FOLDER_CASES = [
    ("missing", lambda t: t / "nope", "not found"),
    ("a-file", lambda t: (t / "f.png").write_bytes(b"x") and t / "f.png", "not found"),
    ("empty", lambda t: (t / "e").mkdir() or t / "e", "no images"),
    ("only-text", lambda t: ((t / "o").mkdir(), (t / "o" / "a.txt").write_text("x")) and t / "o", "no images"),
    ("dir-named-png", lambda t: ((t / "g").mkdir(), (t / "g" / "x.png").mkdir()) and t / "g", "no images"),
]


@pytest.mark.parametrize("make, must", [c[1:] for c in FOLDER_CASES], ids=[c[0] for c in FOLDER_CASES])
def test_bad_image_folder(tmp_path, make, must):
    d = make(tmp_path)
    with pytest.raises(DynheadError) as e:
        load_image_folder(d)
    msg = rb.one_line(e.value)
    assert must in msg and str(d) in msg, msg


@pytest.mark.parametrize("limit", [0, -1])
def test_folder_limit_below_one(tmp_path, limit):
    with pytest.raises(DynheadError, match="must be >= 1"):
        load_image_folder(_folder(tmp_path), limit=limit)


# ---------------------------------------------------------------------------------- the CLI itself
def test_cli_trace_bad_config_and_max_images(ckpt, tmp_path, capsys):
    from dynhead.__main__ import main
    bad = _with_config(ckpt, tmp_path / "bad.pt", channels=-1)
    rc = main(["trace", "--checkpoint", str(bad), "--out", str(tmp_path / "t.npz")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and str(bad) in err and "config.channels" in err, err
    rc = main(["trace", "--checkpoint", str(ckpt), "--max-images", "0", "--out", str(tmp_path / "t.npz")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--max-images" in err and len(err.splitlines()) == 1
    rb.assert_no_leftovers(tmp_path, {"bad.pt"})


def test_cli_trace_image_bomb(ckpt, bomb, tmp_path, capsys):
    """The 2.4 GB PNG in the traced folder: one line naming it, exit 2, no output written."""
    from dynhead.__main__ import main
    d = tmp_path / "imgs"
    d.mkdir()
    (d / "bomb.png").symlink_to(bomb)
    out = tmp_path / "out"
    out.mkdir()
    rc = main(["trace", "--checkpoint", str(ckpt), "--images", str(d), "--size", "64x64", "--out", str(out / "t.npz")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "bomb.png" in err and "max_image_pixels" in err, err
    rb.assert_no_leftovers(out)


_READ = ("import sys\nfrom dynhead.data import read_image\nfrom dynhead.errors import DynheadError\n"
         "try:\n    read_image(sys.argv[1])\nexcept DynheadError as e:\n"
         "    sys.stderr.write(f'dynhead: error: {e}\\n'); sys.exit(2)\n")


@pytest.mark.parametrize("which", ["bomb", "mid_bomb"])
def test_image_bombs_bounded_memory(request, which):
    """Decoding would take 2.4 GB (bomb) or 300 MB after PIL's warning line (mid_bomb, below PIL's own error):
    refused from the header under a 1 GB address space, at the cost of the interpreter and Pillow alone."""
    p = request.getfixturevalue(which)
    r = rb.run_cli("-c", _READ, p, module=None, mem_limit_mb=1024)
    rb.assert_one_line_error(r, str(p), "max_image_pixels")
    assert r.maxrss_mb < 100, r


def test_ctrl_c_during_trace(ckpt, tmp_path):
    """SIGINT in the middle of a trace: 'dynhead: interrupted', exit 130, no traceback, no output file."""
    out = tmp_path / "out"
    out.mkdir()
    # the signal is sent when the head's trace starts (not after a timer that a short trace can outrun), and
    # Python's own SIGINT handler is put back first: a shell starts background jobs with SIGINT ignored, and a
    # Python started so keeps it ignored (the run then finished and exited 0)
    code = ("import os, signal, sys\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "import torch, dynhead.trace as T, dynhead.train\n"
            "from dynhead.__main__ import main\n"
            "_trace = T.trace_head_only\n"
            "def _interrupted(*a, **k):\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n"
            "    return _trace(*a, **k)\n"
            "T.trace_head_only = _interrupted\n"
            "sys.exit(main(['trace', '--checkpoint', sys.argv[1], '--size', '640x640', '--out', sys.argv[2]]))\n")
    before = rb.snapshot(out)
    r = rb.run_cli("-c", code, ckpt, out / "t.npz", module=None, timeout=120)
    rb.assert_one_line_error(r, "interrupted", code=130)
    rb.assert_no_leftovers(out, before)


@pytest.mark.slow
@pytest.mark.skipif(not rb.FULL or sys.platform != "linux", reason="ACCELSIM_FULL=1 on Linux (reads /proc)")
def test_ctrl_c_python_m_dynhead(ckpt, tmp_path):
    """The real entry point: SIGINT once the trace runs (after 'python -m dynhead' has imported torch)."""
    import signal
    import subprocess
    import time
    out = tmp_path / "t.npz"
    p = subprocess.Popen([sys.executable, "-m", "dynhead", "trace", "--checkpoint", str(ckpt), "--size", "1280x1280",
                          "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 60
    # wait until the trace itself runs: torch imported and the checkpoint read (the process is busy)
    while time.time() < deadline and p.poll() is None:
        stat = Path(f"/proc/{p.pid}/stat").read_text().split()
        if (int(stat[13]) + int(stat[14])) / 100 > 4.0:  # past imports (~2 s) and loading; the trace takes ~12 s
            break
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    err = err.decode()
    assert p.returncode == 130 and "Traceback" not in err, err
    assert [ln for ln in err.splitlines() if ln.strip()] == ["dynhead: interrupted"], err
    assert not out.exists()
