"""``results.parquet`` beside ``results.csv`` (plantseek.report.leaderboard): on the committed leaderboard store's
cells (read only), the Parquet file read back with pandas holds the CSV's rows and columns, in the same order, with
equal values, and keeps the types the CSV loses (integers, nullable booleans, empty text columns); the same frame
gives the same bytes."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plantseek.report.leaderboard import results_table, write_results_csv, write_results_parquet

pytest.importorskip("pyarrow")
STORE = Path(__file__).resolve().parents[2] / "leaderboard" / "plantseek.db"


@pytest.fixture(scope="module")
def cells():
    from plantseek.store.results import load_results

    return load_results(STORE, include_masks=True).iloc[::7]  # every 7th cell: all methods, settings and statuses


def test_parquet_holds_the_csv_rows_with_their_types(cells, tmp_path):
    write_results_csv(cells, tmp_path / "results.csv")
    write_results_parquet(cells, tmp_path / "results.parquet")
    csv, pq = pd.read_csv(tmp_path / "results.csv"), pd.read_parquet(tmp_path / "results.parquet")
    assert list(pq.columns) == list(csv.columns) and "mask" not in pq.columns
    assert len(pq) == len(csv) == len(cells) and list(pq.cell_id) == list(csv.cell_id)
    for column in ("seed", "depth", "width", "attempts"):
        assert pq[column].dtype == np.int64
    for column in ("density", "achieved_density", "strong_metric", "weak_metric", "recall", "precision"):
        assert pq[column].dtype == np.float64
    for column in ("contains_ticket", "layer_collapse"):
        assert pq[column].dtype == "boolean"  # nullable: a failed cell has none
    for column in ("task", "pruner", "status", "error", "metrics_json", "pruner_source", "key_fingerprint"):
        assert pd.api.types.is_string_dtype(pq[column]), column  # in the CSV an all-empty one reads as floats
    for column in pq.columns:
        ours, theirs = pq[column], csv[column]
        if pd.api.types.is_float_dtype(ours) or pd.api.types.is_integer_dtype(ours):
            assert np.array_equal(ours.to_numpy(float), theirs.to_numpy(float), equal_nan=True), column
        elif ours.dtype == "boolean" or ours.dtype == bool:
            assert [None if pd.isna(v) else bool(v) for v in ours] == \
                   [None if pd.isna(v) else str(v) == "True" for v in theirs], column
        else:  # text: the CSV cannot tell an empty text from a missing one
            assert list(ours.fillna("")) == list(theirs.astype(object).where(theirs.notna(), "").astype(str)), column


def test_parquet_round_trips_the_published_table_exactly(cells, tmp_path):
    write_results_parquet(cells, tmp_path / "a.parquet")
    back = pd.read_parquet(tmp_path / "a.parquet")
    table = results_table(cells)
    pd.testing.assert_frame_equal(back, table.astype({"metrics_json": "str"}))  # JSON text held as objects
    write_results_parquet(cells, tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
