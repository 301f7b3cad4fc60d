#!/usr/bin/env python3
"""The pandas side of the ingestion benchmark: how long pandas takes to read the same files.

    /usr/bin/python3 bench/pandas_ingest.py --csv data.csv [--parquet data.parquet] [--repeats 3]
        [--labels click,purchase] [--dense D109_14,...]

Prints one JSON object. Each figure is the median over --repeats timed runs after one untimed
warm-up run (so the file is in the page cache for every timed run, as for the JavaScript side):

- read_csv: pandas.read_csv with its default C parser and type inference.
- read_parquet: pandas.read_parquet, when pyarrow or fastparquet is importable; otherwise the entry
  says "unavailable: no pyarrow/fastparquet".
- training_ready: read_csv, then what a trainer needs: label columns as float32, dense columns as
  float32, every other (sparse) column as int32 category codes (pd.factorize; missing → -1, then
  shifted so codes start at 0 and ids start at 1 with 0 for missing, like webmtl's vocabularies).
  The dense columns default to the columns pandas reads as floating point; labels default to
  click/purchase/income_50k/never_married when present.

Peak memory is not measured here: run this script under /usr/bin/time -v (bench/data.ts peakRssOf).
"""

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import pandas as pd

DEFAULT_LABELS = ("click", "purchase", "income_50k", "never_married")


def timed(fn, repeats):
    """One warm-up call, then `repeats` timed calls: (median seconds, every timing, last result)."""
    result = fn()
    times = []
    for _ in range(repeats):
        del result
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def parquet_engine():
    for name in ("pyarrow", "fastparquet"):
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def training_ready(path, labels, dense):
    frame = pd.read_csv(path)
    label_names = [c for c in (labels or DEFAULT_LABELS) if c in frame.columns]
    if dense is None:
        dense_names = [c for c in frame.columns if c not in label_names and pd.api.types.is_float_dtype(frame[c])]
    else:
        dense_names = dense
    out = {}
    out["labels"] = frame[label_names].to_numpy(dtype=np.float32)
    for name in dense_names:
        column = frame[name].astype(np.float32)
        out[name] = column.fillna(column.mean()).to_numpy()
    for name in frame.columns:
        if name in label_names or name in dense_names:
            continue
        codes, _uniques = pd.factorize(frame[name], sort=False)
        out[name] = (codes + 1).astype(np.int32)
    return frame.shape, len(label_names), len(dense_names), out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", required=True, help="CSV file")
    parser.add_argument("--parquet", help="Parquet file (the same table)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (default 3)")
    parser.add_argument("--labels", help="label columns, comma separated (default: click,purchase,income_50k,never_married when present)")
    parser.add_argument("--dense", help="dense columns, comma separated (default: the columns pandas reads as floats)")
    parser.add_argument("--skip-training-ready", action="store_true", help="leave the training-ready measurement out")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    for path in (args.csv, args.parquet):
        if path is not None and not os.path.isfile(path):
            parser.error(f"no file {path!r}: generate it first (node bench/run.mjs data --rows N --dir DIR [--parquet])")
    labels = args.labels.split(",") if args.labels else None
    dense = args.dense.split(",") if args.dense else None

    report = {
        "tool": "pandas",
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "repeats": args.repeats,
        "method": "median of repeats after one warm-up run",
        "csv": {"path": args.csv, "bytes": os.path.getsize(args.csv)},
    }

    seconds, runs, frame = timed(lambda: pd.read_csv(args.csv), args.repeats)
    report["read_csv"] = {
        "seconds": seconds,
        "runs": runs,
        "rows": int(frame.shape[0]),
        "columns": int(frame.shape[1]),
        "rows_per_second": frame.shape[0] / seconds,
        "MB_per_second": report["csv"]["bytes"] / 1e6 / seconds,
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
    }
    rows = frame.shape[0]
    del frame

    if args.parquet:
        engine = parquet_engine()
        entry = {"path": args.parquet, "bytes": os.path.getsize(args.parquet)}
        if engine is None:
            entry["result"] = "unavailable: no pyarrow/fastparquet"
        else:
            seconds, runs, frame = timed(lambda: pd.read_parquet(args.parquet, engine=engine), args.repeats)
            entry.update({"engine": engine, "seconds": seconds, "runs": runs, "rows": int(frame.shape[0]), "rows_per_second": frame.shape[0] / seconds})
            del frame
        report["read_parquet"] = entry

    if not args.skip_training_ready:
        seconds, runs, result = timed(lambda: training_ready(args.csv, labels, dense), args.repeats)
        shape, n_labels, n_dense, _columns = result
        report["training_ready"] = {
            "what": "read_csv + labels and dense as float32 (missing dense → column mean) + pd.factorize codes (int32, 0 = missing) for every other column",
            "seconds": seconds,
            "runs": runs,
            "rows": int(shape[0]),
            "labels": n_labels,
            "dense": n_dense,
            "sparse": int(shape[1]) - n_labels - n_dense,
            "rows_per_second": rows / seconds,
        }

    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
