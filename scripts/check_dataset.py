"""Reads Arbiter's Parquet exports the way trainers do.

    python scripts/check_dataset.py parquet FILE.parquet SAME.jsonl
        pyarrow and datasets.load_dataset("parquet") read FILE.parquet, and
        its rows equal the rows of the same export as JSONL.
    python scripts/check_dataset.py hfdir DIR TRAIN_ROWS TEST_ROWS
        datasets.load_dataset(DIR) reads the folder (README.md YAML: splits,
        features) with these many rows per split (TEST_ROWS 0: no test split).

Exits non-zero saying what is wrong.
"""
import json
import sys

import datasets
import pyarrow.parquet as pq


def same(a, b, where):
    if isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None and abs(a - b) < 1e-9, f"{where}: {a!r} != {b!r}"
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def parquet(path, jsonl):
    rows = [json.loads(line) for line in open(jsonl, encoding="utf-8") if line.strip()]
    table = pq.read_table(path)
    got = table.to_pylist()
    assert len(got) == len(rows), (len(got), len(rows))
    for i, (g, r) in enumerate(zip(got, rows)):
        same(g, r, f"row {i}")
    ds = datasets.load_dataset("parquet", data_files=path, split="train")
    assert ds.num_rows == len(rows), (ds.num_rows, len(rows))
    for i in range(min(len(rows), 5)):
        same(ds[i], rows[i], f"datasets row {i}")
    print(json.dumps({"file": path, "rows": len(rows), "columns": table.schema.names}))


def hfdir(path, train, test):
    dd = datasets.load_dataset(path)
    want = {"train": int(train)}
    if int(test) > 0:
        want["test"] = int(test)
    got = {name: split.num_rows for name, split in dd.items()}
    assert got == want, f"splits {got} != {want}"
    card = open(f"{path}/README.md", encoding="utf-8").read()
    assert card.startswith("---\n") and "dataset_info:" in card, "README.md has no YAML header"
    features = dd["train"].features
    print(json.dumps({"dir": path, "splits": got, "features": list(features)}))


if __name__ == "__main__":
    {"parquet": parquet, "hfdir": hfdir}[sys.argv[1]](*sys.argv[2:])
