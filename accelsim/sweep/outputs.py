"""Sweep outputs: tidy CSV (and Parquet when pyarrow is importable), Pareto tables and PNG plots, best points."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

from ..pareto import pareto_rows

LABELS = {"latency_s": "latency per image (s)", "energy_j": "energy per image (J)", "area_mm2": "area (mm²)",
          "utilization": "utilization", "edp_js": "energy-delay product (J·s)", "power_w": "power (W)",
          "cycles": "cycles per image"}


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)  # shortest round-trip form: the CSV reproduces the numbers exactly
    if isinstance(v, (list, tuple)):
        return ";".join(map(str, v))
    return v


def rows_to_csv(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: _cell(r.get(c)) for c in columns})
    return buf.getvalue()


def _write(path: Path, text: str | bytes):
    from workloads.storage import atomic_write_bytes
    atomic_write_bytes(path, text.encode() if isinstance(text, str) else text)


def write_parquet(path: Path, rows: list[dict], columns: list[str]) -> bool:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    table = pa.Table.from_pylist([{c: (";".join(map(str, r[c])) if isinstance(r.get(c), (list, tuple))
                                       else r.get(c)) for c in columns} for r in rows])
    pq.write_table(table, str(path))
    return True


def objective_pairs(objectives: list[tuple[str, str]]) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    return list(itertools.combinations(objectives, 2))


def plot_pair(path: Path, rows: list[dict], front: list[dict], x: tuple[str, str], y: tuple[str, str], title: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=110)
    xs = [r[x[0]] for r in rows]
    ys = [r[y[0]] for r in rows]
    ax.scatter(xs, ys, s=14, c="0.6", label=f"feasible points ({len(rows)})")
    fx = [r[x[0]] for r in front]
    fy = [r[y[0]] for r in front]
    ax.plot(fx, fy, "o-", c="tab:red", ms=5, lw=1.2, label=f"Pareto set ({len(front)})",
            drawstyle="steps-post" if x[1] == y[1] == "min" else "default")
    for vals, axis in ((xs, ax.set_xscale), (ys, ax.set_yscale)):
        pos = [v for v in vals if v and v > 0]
        if pos and max(pos) / min(pos) > 50:
            axis("log")
    ax.set_xlabel(LABELS.get(x[0], x[0]) + (" (max)" if x[1] == "max" else ""))
    ax.set_ylabel(LABELS.get(y[0], y[0]) + (" (max)" if y[1] == "max" else ""))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    _write(path, buf.getvalue())


def best_per_objective(rows: list[dict], objectives: list[tuple[str, str]], columns: list[str]) -> dict:
    out = {}
    for col, sense in objectives:
        cand = [r for r in rows if isinstance(r.get(col), (int, float))]
        if not cand:
            continue
        # ties broken by point index, so the choice is deterministic
        best = min(cand, key=lambda r: ((r[col] if sense == "min" else -r[col]), r["point"]))
        out[col] = {"sense": sense, "value": best[col], "point": {c: best.get(c) for c in columns}}
    return out


#: name patterns of the files :func:`write_outputs` and the sweep write to the output folder
OUTPUT_FILES = ("points.csv", "points.parquet", "area_breakdown.csv", "pareto.csv", "pareto_*.csv", "pareto_*.png",
                "best.json", "summary.json")

AREA_COLUMNS = ["point", "component", "area_mm2", "count", "unit", "basis", "source", "ref_node_nm", "node_nm",
                "method"]


def write_outputs(out: Path, rows: list[dict], columns: list[str], objectives: list[tuple[str, str]],
                  name: str, plots: bool = True, areas: dict | None = None) -> dict:
    """Write every output file; returns {"files": {...}, "pareto": {...}, "best": {...}}.

    ``areas``: point -> :class:`accelsim.area.AreaReport`, written as area_breakdown.csv (one row per
    component, with its formula basis and source).
    """
    from workloads.storage import ensure_dir
    ensure_dir(out)
    files = {"csv": str(out / "points.csv")}
    _write(out / "points.csv", rows_to_csv(rows, columns))
    if areas:
        arows = [{"point": p, "node_nm": rep.node_nm, "method": rep.method, **c.__dict__, "component": c.name}
                 for p, rep in sorted(areas.items()) for c in rep.components]
        _write(out / "area_breakdown.csv", rows_to_csv(arows, AREA_COLUMNS))
        files["area_breakdown"] = str(out / "area_breakdown.csv")
    if write_parquet(out / "points.parquet", rows, columns):
        files["parquet"] = str(out / "points.parquet")
    ok = [r for r in rows if r.get("status") == "ok"]
    pareto = {}
    cols = [o for o, _ in objectives]
    if objectives:
        front = pareto_rows(ok, cols, [s for _, s in objectives])
        p = out / "pareto.csv"
        _write(p, rows_to_csv(front, columns))
        files["pareto"] = str(p)
        pareto["all"] = {"objectives": cols, "points": [r["point"] for r in front]}
    for x, y in objective_pairs(objectives):
        front = pareto_rows(ok, [x[0], y[0]], [x[1], y[1]])
        tag = f"{x[0]}_vs_{y[0]}"
        p = out / f"pareto_{tag}.csv"
        _write(p, rows_to_csv(front, columns))
        files[f"pareto_{tag}"] = str(p)
        pareto[tag] = {"objectives": [x[0], y[0]], "points": [r["point"] for r in front]}
        if plots and ok:
            png = out / f"pareto_{tag}.png"
            plot_pair(png, ok, front, x, y, f"{name}: {y[0]} vs {x[0]}")
            files[f"pareto_{tag}_png"] = str(png)
    best = best_per_objective(ok, objectives, columns)
    _write(out / "best.json", json.dumps(best, indent=2, sort_keys=True))
    files["best"] = str(out / "best.json")
    return {"files": files, "pareto": pareto, "best": best}
