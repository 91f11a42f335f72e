"""How much do labkit's loaders cost over reading the Parquet files directly?

Prints, for each shipped dataset, the median time of `labkit.data.load_*()` and of the baseline
`pandas.read_parquet` of the same file, measured in the same run, and their ratio. Not a test: the
numbers depend on the machine; the ratio is what to compare between versions.

    python benchmarks/data_loading.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import pandas as pd

from labkit import data
from labkit.paths import data_dir


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``function()`` over ``repeats`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    cases = {
        "sentiment/movies.parquet": lambda: data.load_sentiment("movies"),
        "topic/20newsgroups.parquet": lambda: data.load_topic("20newsgroups"),
        "topic/reuters-r8.parquet": lambda: data.load_topic("reuters-r8"),
        "corpus/sotu.parquet": data.load_corpus,
        "bias/bbq_gender.parquet": data.load_bbq_gender,
    }
    print(f"{'file':30s} {'pandas (ms)':>12s} {'labkit (ms)':>12s} {'ratio':>7s}")
    for relative, loader in cases.items():
        path = data_dir() / relative
        baseline = median_seconds(partial(pd.read_parquet, path), repeats)
        ours = median_seconds(loader, repeats)
        print(f"{relative:30s} {baseline * 1e3:12.1f} {ours * 1e3:12.1f} {ours / baseline:7.2f}x")


if __name__ == "__main__":
    main()
