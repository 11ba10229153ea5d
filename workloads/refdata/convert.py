"""Pack the shared reference data into the package: one compressed ``<set>.npz`` per set, plus ``README.md``.

    python -m workloads.refdata.convert [--shared DIR] [--out DIR] [--check]

Reads ``DIR/validation/<set>/`` (default: the shared folder found as usual, see
:func:`workloads.refdata.external_root`) for every set in :data:`workloads.refdata.SETS` and writes
``<out>/<set>.npz`` (default ``out``: this package folder) and ``<out>/README.md`` (provenance, the
section of the shared README about the set, the sha256 of every source file).

Archive layout (loads with ``np.load(..., allow_pickle=False)``; no pickles): ``format`` (str),
``names`` (relative paths, str), ``encodings`` (``raw`` or ``shuffle4``), ``sha256`` (hex, str),
``sizes`` (int64), and ``f<i>`` (uint8) the bytes of file ``i``: as they are (``raw``) or, for
``.dat`` files of 32-bit words, as their 4 byte planes (``shuffle4``, a (4, n) array; deflate packs
the planes of integers and floats much better).  Zip entries carry a fixed timestamp, so the same
input gives the same archive bytes; ``--check`` verifies that the packaged files are exactly what
this script would write (exit 1 naming the first difference).
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

from ..errors import WorkloadError
from . import FORMAT, FORMAT_VERSION, PACKAGE_DIR, REGENERATE, SETS, external_root, read_folder, sha256, shuffle4

ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# Where each set comes from.  The licence lines say what the sources state (the shared README states none).
PROVENANCE = {
    "eie_alexnet_fc8": {
        "title": "EIE on the real, pruned AlexNet fc8 layer",
        "source": "Han et al., *EIE: Efficient Inference Engine on Compressed Deep Neural Network*, ISCA 2016; "
                  "files dumped by the authors' cycle-level C++ model, public repository "
                  "[RalphMao/EIE-simulator](https://github.com/RalphMao/EIE-simulator), folder `data/`.",
        "upstream": "`data/act.dat`, `data/arithm.dat`, `data/ptr/ptr{0..63}.dat`, `data/spm/spm{0..63}.dat`, "
                    "`data/verify.py`",
        "licence": "The shared README states no licence; the upstream repository has no LICENSE file that we "
                   "found. Redistributed unchanged, with attribution, as validation data; confirm the terms "
                   "with the authors before publishing a release.",
        "used_by": "zoo workload `eie-alexnet-fc8` (`workloads/eie_dump.py`), `accelsim validate eie`",
    },
    "eyerissv2_pe_mobilenet05": {
        "title": "one Eyeriss v2 PE on real sparse MobileNet-0.5 masks",
        "source": "Wu et al., *Sparseloop: An Analytical Approach to Sparse Tensor Accelerator Modeling*, "
                  "MICRO 2022; artifact repository "
                  "[Accelergy-Project/micro22-sparseloop-artifact](https://github.com/Accelergy-Project/"
                  "micro22-sparseloop-artifact), `workspace/2022.micro.artifact/evaluation_setups/"
                  "fig12_eyerissv2_pe_setup`.",
        "upstream": "`workload/mobilenet0.5-sparse/actual_data/actual_data_masks/L{nn}_{iacts,weights}.txt`; "
                    "`layers.csv` is a table of the shared folder (layer shapes, dense MACs, and the ground-truth "
                    "cycles of the artifact's `scripts/ground_truth_cycles.yaml`)",
        "licence": "The shared README states no licence; the artifact repository has no LICENSE file that we "
                   "found. Redistributed unchanged, with attribution, as validation data; confirm the terms "
                   "with the authors before publishing a release.",
        "used_by": "zoo workloads `eyeriss-v2-pe-mobilenet05` and `eyeriss-v2-sparse-mobilenet-v1` "
                   "(`workloads/eyeriss_masks.py`), `accelsim validate eyeriss-v2` / `eyeriss-v1`",
    },
    "scnn_layer_densities": {
        "title": "per-layer densities used in SCNN-style studies",
        "source": "Layer shapes of VGG16 and GoogLeNet (inception 3a, 5b) with the weight densities of the pruned "
                  "networks of Han et al. (*Learning both Weights and Connections*, NeurIPS 2015) and "
                  "ImageNet-measured activation densities, as used by public SCNN simulators (Parashar et al., "
                  "*SCNN*, ISCA 2017).",
        "upstream": "`vgg16_conv.csv`, `googlenet_inception_3a_5b.csv` (tables compiled in the shared folder)",
        "licence": "The shared README states no licence; the tables hold published numbers (shapes, densities).",
        "used_by": "zoo workloads `scnn-vgg16`, `scnn-googlenet-inception` (`workloads/shared_data.py`), "
                   "`accelsim validate scnn`",
    },
}


def encode_set(name: str, files: dict[str, bytes]) -> dict[str, np.ndarray]:
    """The archive arrays of one set (see the module docstring)."""
    if not files:
        raise WorkloadError(f"reference data set {name!r} has no files")
    names = sorted(files)
    arrays: dict[str, np.ndarray] = {"format": np.array(f"{FORMAT}/{FORMAT_VERSION}")}
    enc = []
    for i, n in enumerate(names):
        data = files[n]
        if n.endswith(".dat") and len(data) % 4 == 0:
            arrays[f"f{i}"] = shuffle4(data)
            enc.append("shuffle4")
        else:
            arrays[f"f{i}"] = np.frombuffer(data, dtype=np.uint8).copy()
            enc.append("raw")
    arrays["names"] = np.array(names, dtype=str)
    arrays["encodings"] = np.array(enc, dtype=str)
    arrays["sha256"] = np.array([sha256(files[n]) for n in names], dtype=str)
    arrays["sizes"] = np.array([len(files[n]) for n in names], dtype=np.int64)
    return arrays


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz (``np.load`` reads it) with fixed zip timestamps and order: the same arrays give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, npy.getvalue(), compresslevel=9)
    return buf.getvalue()


def shared_readme_section(readme: str, name: str) -> str:
    """The ``## <name>/ ...`` section of the shared README (up to the next ``## ``), or ''."""
    out, inside = [], False
    for line in readme.splitlines():
        if line.startswith("## "):
            inside = line[3:].startswith(f"{name}/")
            if inside:
                continue
        if inside:
            out.append(line)
    return "\n".join(out).strip()


def readme_text(files: dict[str, dict[str, bytes]], shared_readme: str, blobs: dict[str, bytes]) -> str:
    lines = [
        "# Packaged reference data",
        "",
        "Real data published with other people's work, used by the zoo workloads and by "
        "`accelsim validate` to check the models against something this project did not write. "
        "Each set is one compressed archive here, made from the shared folder (`../shared/validation/<set>/`) by",
        "",
        "    " + REGENERATE + "          # --check: verify the packaged files match the shared folder",
        "",
        "Each archive holds the set's files byte for byte (see `convert.py` for the layout: no pickles, "
        "`np.load(path, allow_pickle=False)` reads it) with their sha256, checked on every load. Readers get "
        "the files through `workloads.refdata` (`set_dir`, `read_set`, `data_root`): an external shared folder "
        "(`--shared DIR`, `$ACCELSIM_SHARED`, `<repo>/../shared`) overrides the packaged copy, and "
        "`ACCELSIM_SHARED=none` uses the packaged copy only. The packaged copy is unpacked once into "
        "`$ACCELSIM_REFDATA_CACHE` or `~/.cache/accelsim/refdata/<digest>/validation/<set>/`.",
        "",
    ]
    for name in SETS:
        p = PROVENANCE[name]
        total = sum(len(b) for b in files[name].values())
        lines += [
            f"## {name} — {p['title']}",
            "",
            f"* **Source:** {p['source']}",
            f"* **Original files:** {p['upstream']}",
            f"* **Licence:** {p['licence']}",
            f"* **Used by:** {p['used_by']}",
            f"* **Converted:** {len(files[name])} files, {total:,} bytes → `{name}.npz`, {len(blobs[name]):,} bytes "
            f"(sha256 `{sha256(blobs[name])}`); `.dat` files of 32-bit words stored as byte planes (`shuffle4`), "
            "the others as they are (`raw`), all deflated.",
            "",
        ]
        sec = shared_readme_section(shared_readme, name)
        if sec:
            lines += ["What the shared README says about this set (copied):", ""]
            lines += [("> " + ln).rstrip() for ln in sec.splitlines()]
            lines.append("")
        lines += ["| file | bytes | sha256 |", "|---|---:|---|"]
        lines += [f"| `{n}` | {len(b)} | `{sha256(b)}` |" for n, b in sorted(files[name].items())]
        lines.append("")
    return "\n".join(lines)


def build(shared: Path) -> dict[str, bytes]:
    """Output file name -> bytes for every set and the README, from ``shared/validation``."""
    val = Path(shared) / "validation"
    files, blobs = {}, {}
    for name in SETS:
        d = val / name
        if not d.is_dir():
            raise WorkloadError("reference data set not found", file=str(d))
        files[name] = read_folder(d)
        blobs[name] = npz_bytes(encode_set(name, files[name]))
    readme = val / "README.md"
    shared_readme = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    out = {f"{n}.npz": b for n, b in blobs.items()}
    out["README.md"] = readme_text(files, shared_readme, blobs).encode()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workloads.refdata.convert", description=__doc__.split("\n")[0])
    ap.add_argument("--shared", help="shared folder holding validation/<set>/ (default: $ACCELSIM_SHARED or "
                                     "../shared)")
    ap.add_argument("--out", default=str(PACKAGE_DIR), help="output folder (default: the package's refdata/)")
    ap.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    a = ap.parse_args(argv)
    from ..storage import atomic_write_bytes
    try:
        shared = external_root(a.shared)
        if shared is None:
            raise WorkloadError("shared folder not found (give --shared DIR or set $ACCELSIM_SHARED)")
        out = build(shared)
        for fname, data in out.items():
            dest = Path(a.out) / fname
            if a.check:
                if not dest.is_file() or dest.read_bytes() != data:
                    print(f"{dest}: differs from what {REGENERATE} writes from {shared}", file=sys.stderr)
                    return 1
            else:
                atomic_write_bytes(dest, data)
                print(f"{dest}: {len(data):,} bytes")
    except WorkloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.check:
        print(f"{a.out}: packaged reference data identical to {shared}/validation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
