"""Loads an export file the way trainers do and checks every column is typed.

    python scripts/check_export.py FILE standard|conversational|raw

pyarrow's JSON reader and `datasets.load_dataset("json")` must both read the
file, `prompt`, `chosen` and `rejected` must be strings (standard form) or
lists of {role, content} structs (conversational form) in every row, and
`margin` a float. Exits non-zero saying what is wrong.
"""
import json
import sys

import datasets
import pyarrow as pa
import pyarrow.json as pj


def check_raw(path: str, lines: int) -> None:
    table = pj.read_json(path)
    assert table.num_rows == lines, (table.num_rows, lines)
    for column in ("annotation_id", "pair_id", "model_a", "model_b", "annotator", "left", "rationale", "submitted_at"):
        assert table.schema.field(column).type == pa.string(), f"{column}: {table.schema.field(column).type}"
    for column in ("choice_shown", "choice"):
        assert pa.types.is_integer(table.schema.field(column).type), table.schema
    meta = table.schema.field("meta").type
    assert meta in (pa.string(), pa.null()), f"meta must be a JSON string column, is {meta}"
    ds = datasets.load_dataset("json", data_files=path, split="train")
    assert ds.num_rows == lines
    print(json.dumps({"file": path, "form": "raw", "rows": lines}))


def main(path: str, form: str) -> None:
    lines = sum(1 for line in open(path, encoding="utf-8") if line.strip())
    if form == "raw":
        return check_raw(path, lines)
    table = pj.read_json(path)
    message = pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))
    want = pa.string() if form == "standard" else message
    for column in ("prompt", "chosen", "rejected"):
        got = table.schema.field(column).type
        # pyarrow orders struct fields as it meets them; compare as sets.
        if form == "conversational":
            ok = pa.types.is_list(got) and pa.types.is_struct(got.value_type) and sorted(
                (f.name, str(f.type)) for f in got.value_type
            ) == [("content", "string"), ("role", "string")]
        else:
            ok = got == want
        assert ok, f"pyarrow: column {column} is {got}, expected {want}"
    assert pa.types.is_floating(table.schema.field("margin").type), table.schema
    assert table.num_rows == lines, (table.num_rows, lines)

    ds = datasets.load_dataset("json", data_files=path, split="train")
    for column in ("prompt", "chosen", "rejected"):
        feature = ds.features[column]
        if form == "standard":
            assert feature == datasets.Value("string"), f"datasets: {column} is {feature}"
        else:
            item = feature[0] if isinstance(feature, list) else getattr(feature, "feature", None)
            assert isinstance(item, dict) and item.get("role") == datasets.Value("string") and item.get(
                "content"
            ) == datasets.Value("string"), f"datasets: {column} is {feature}"
    assert ds.num_rows == lines
    print(json.dumps({"file": path, "form": form, "rows": lines, "datasets": datasets.__version__, "pyarrow": pa.__version__}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
