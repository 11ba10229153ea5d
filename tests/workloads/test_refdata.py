"""Packaged reference data (workloads/refdata): the same workloads as the shared folder, offline."""

import shutil
import zipfile

import numpy as np
import pytest

from workloads import WorkloadError, refdata
from workloads.refdata import convert
from workloads.zoo import resolve

# content hashes of the reference workloads (seed 0); the same with ../shared and with the packaged copy
REFERENCE_HASHES = {
    "eie-alexnet-fc8": "19636a9a18dbb5756a11a503589e15f8196f3997bf65878efbb687ead36b573c",
    "eyeriss-v2-pe-mobilenet05": "f2e6b6c229a00276c556c66ada76f224ac16386e1f87840cf98e291e78494272",
    "eyeriss-v2-sparse-mobilenet-v1": "700565061466591490e9bd01d5858725db83921d738e40738c08800cb91b85d4",
    "scnn-vgg16": "ad2721e5aa8a3196e62e5cd79b62082714d35d22a17bd96c416ae8710ab6d4d9",
    "scnn-googlenet-inception": "8c035f6f14779391ba929a7685249d860dca96db54faff7430e37092f7c0d369",
}
@pytest.fixture
def packaged_only(monkeypatch, tmp_path):
    """No external folder, a fresh unpack cache."""
    monkeypatch.setenv("ACCELSIM_SHARED", "none")
    monkeypatch.setenv(refdata.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_every_zoo_workload_resolves_offline(packaged_only):
    from workloads.zoo import list_workloads
    assert refdata.external_root() is None
    for name in list_workloads():
        wl = resolve(name)
        if name in REFERENCE_HASHES:
            assert wl.content_hash == REFERENCE_HASHES[name], name
    for s in refdata.SETS:  # unpacked under <cache>/<digest>/validation/<set>
        assert refdata.set_dir(s).parent.parent.parent == packaged_only


@pytest.mark.parametrize("name", sorted(REFERENCE_HASHES))
def test_reference_workloads_have_the_pinned_hashes(name):
    """Default lookup: ../shared (or $ACCELSIM_SHARED) when present, else the packaged copy."""
    assert resolve(name).content_hash == REFERENCE_HASHES[name]


def test_default_source_equals_the_packaged_copy():
    """With ../shared present this compares it with the packaged copy file by file (and the converter's --check:
    archives and README byte-identical); without it, the packaged copy with itself through the same path."""
    ext = refdata.external_root()
    for s in refdata.SETS:
        assert refdata.read_set(s) == refdata.packaged_files(s), s
    if ext is not None and all((ext / "validation" / s).is_dir() for s in refdata.SETS):
        assert convert.main(["--shared", str(ext), "--check"]) == 0


def test_regenerating_from_the_unpacked_copy_gives_the_same_archives(packaged_only, tmp_path):
    root = refdata.data_root()
    out = tmp_path / "out"
    assert convert.main(["--shared", str(root), "--out", str(out)]) == 0
    for s in refdata.SETS:
        assert (out / f"{s}.npz").read_bytes() == refdata.packaged_path(s).read_bytes(), s


def test_readme_lists_the_sha256_of_every_packaged_file():
    text = (refdata.PACKAGE_DIR / "README.md").read_text()
    for s in refdata.SETS:
        for n, b in refdata.packaged_files(s).items():
            assert f"| `{n}` | {len(b)} | `{refdata.sha256(b)}` |" in text, (s, n)


def test_none_disables_even_an_explicit_folder_in_the_environment(monkeypatch, tmp_path):
    (tmp_path / "validation" / "scnn_layer_densities").mkdir(parents=True)
    monkeypatch.setenv("ACCELSIM_SHARED", str(tmp_path))
    assert refdata.external_root() == tmp_path
    assert refdata.external_root("none") is None and refdata.external_root("NONE") is None
    monkeypatch.setenv("ACCELSIM_SHARED", "none")
    assert refdata.external_root() is None
    assert refdata.external_root(tmp_path) == tmp_path   # the argument still wins


def test_archive_layout_loads_without_pickles_and_is_deterministic():
    files = {"a.dat": np.arange(7, dtype="<u4").tobytes(), "b/c.txt": b"0101\n", "odd.dat": b"abc"}
    arrays = convert.encode_set("x", files)
    assert list(arrays["encodings"]) == ["shuffle4", "raw", "raw"]
    blob = convert.npz_bytes(arrays)
    assert blob == convert.npz_bytes(convert.encode_set("x", dict(reversed(files.items()))))
    import io
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        names, enc, sha, sizes = refdata._manifest(z, "x.npz")
        back = {n: refdata._decode(z[f"f{i}"], e) for i, (n, e) in enumerate(zip(names, enc))}
    assert back == files and sha == [refdata.sha256(files[n]) for n in names]


def _fake_package(monkeypatch, tmp_path):
    pkg = tmp_path / "pkg"
    shutil.copytree(refdata.PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    monkeypatch.setattr(refdata, "PACKAGE_DIR", pkg)
    monkeypatch.setenv("ACCELSIM_SHARED", "none")
    monkeypatch.setenv(refdata.CACHE_ENV, str(tmp_path / "cache"))
    return pkg


def _one_line(ei, *parts):
    msg = str(ei.value)
    assert "\n" not in msg
    for p in parts:
        assert p in msg, (p, msg)


def test_missing_truncated_and_tampered_archives_are_one_line_errors(monkeypatch, tmp_path):
    pkg = _fake_package(monkeypatch, tmp_path)
    npz = pkg / "scnn_layer_densities.npz"
    good = npz.read_bytes()
    npz.unlink()
    with pytest.raises(WorkloadError) as ei:
        resolve("scnn-vgg16")
    _one_line(ei, str(npz), "missing", "workloads.refdata.convert")
    npz.write_bytes(good[: len(good) // 2])
    with pytest.raises(WorkloadError) as ei:
        refdata.packaged_files("scnn_layer_densities")
    _one_line(ei, str(npz))
    # a file whose bytes no longer match its sha256
    npz.write_bytes(good)
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["f0"][-2] ^= 1
    npz.write_bytes(convert.npz_bytes(arrays))
    with pytest.raises(WorkloadError) as ei:
        resolve("scnn-vgg16")
    _one_line(ei, str(npz), "sha256")
    arrays.pop("names")
    npz.write_bytes(convert.npz_bytes(arrays))
    with pytest.raises(WorkloadError) as ei:
        refdata.packaged_files("scnn_layer_densities")
    _one_line(ei, str(npz), "'names' missing")


def test_unpack_cache_is_repaired_and_unwritable_cache_is_reported(monkeypatch, tmp_path):
    _fake_package(monkeypatch, tmp_path)
    d = refdata.set_dir("scnn_layer_densities")
    csv = d / "vgg16_conv.csv"
    text = csv.read_bytes()
    csv.write_bytes(text[:10])                       # damaged (size differs): unpacked again
    assert refdata.set_dir("scnn_layer_densities") == d and csv.read_bytes() == text
    assert not [p for p in d.parent.iterdir() if p.name.startswith(".")]   # no temp folders left
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv(refdata.CACHE_ENV, str(blocker / "cache"))
    with pytest.raises(WorkloadError) as ei:
        refdata.set_dir("scnn_layer_densities")
    _one_line(ei, str(blocker), refdata.CACHE_ENV)


def test_unknown_set():
    with pytest.raises(WorkloadError, match="unknown reference data set 'nope'"):
        refdata.packaged_files("nope")


def test_converter_reports_a_missing_folder(tmp_path, capsys):
    assert convert.main(["--shared", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "eie_alexnet_fc8" in err


def test_package_data_is_declared_and_small():
    import tomllib
    from pathlib import Path
    py = tomllib.loads((Path(refdata.REPO_ROOT) / "pyproject.toml").read_text())
    assert set(py["tool"]["setuptools"]["package-data"]["workloads.refdata"]) >= {"*.npz", "README.md"}
    sizes = [(refdata.PACKAGE_DIR / f"{s}.npz").stat().st_size for s in refdata.SETS]
    assert sum(sizes) < 3_000_000
    for s in refdata.SETS:
        assert zipfile.is_zipfile(refdata.PACKAGE_DIR / f"{s}.npz")
