"""A report to hand to a colleague: ``report.md`` with its figures, every number naming its split."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.selection.recommendation import Recommendation, pareto_front
from labkit.selection.results import summary

# A report to hand to a colleague


REPORT_COLUMNS = {  # results column -> the report's header, which names the split of every number
    "candidate": "candidate", "validation_accuracy": "validation accuracy (chooses)", "accuracy": "test accuracy",
    "accuracy_low": "test 95% CI low", "accuracy_high": "test 95% CI high",
    "majority_class_rate": "test majority-class rate", "f1": "test F1", "ece": "test ECE",
    "parameters": "parameters", "size_mb": "size (MB)", "train_seconds": "training (s)",
    "latency_ms_p50": "latency p50 (ms)", "latency_ms_p95": "latency p95 (ms)",
    "throughput_per_second": "throughput (/s)", "counterfactual_flip_rate": "test gender-swap flip rate",
    "counterfactual_flip_rate_low": "flip rate CI low", "counterfactual_flip_rate_high": "flip rate CI high",
    "truncated_test_examples": "test texts truncated",
    "pareto_optimal": "Pareto-optimal",
}


def write_report(results: pd.DataFrame, output: str | Path, *, title: str = "Model selection report",
                 recommendations: dict[str, Recommendation] | None = None,
                 comparisons: Sequence[dict[str, Any]] = (), provenance_record: dict[str, Any] | None = None,
                 source: dict[str, Any] | None = None) -> Path:
    """Write ``report.md`` with its figures (PNG) into ``output``; return the report's path.

    The report has the data (the user's file, rows kept and dropped), each recommendation (chosen on
    validation, with the chosen model's test score), the results table with the split of every number
    and the majority-class rate, how many texts were truncated, a forest plot of test accuracy with
    confidence intervals, the Pareto plot with intervals, the paired comparisons (naming the test behind
    each p-value) and the provenance.
    """
    from labkit import viz

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    results = results.copy()
    results["pareto_optimal"] = pareto_front(results)
    majority = float(results["majority_class_rate"].iloc[0]) if "majority_class_rate" in results else None
    forest = viz.metric_forest_plot(
        {row.candidate: (row.accuracy, row.accuracy_low, row.accuracy_high) for row in results.itertuples()},
        metric="test accuracy", reference=majority,
        title="Test accuracy (95% bootstrap CI)" + ("; dashed: majority class" if majority is not None else ""))
    forest.savefig(output / "accuracy.png")
    scatter = viz.pareto_scatter(list(results["candidate"]), list(results["latency_ms_p50"]),
                                 list(results["accuracy"]), list(results["pareto_optimal"]),
                                 sizes=list(results["parameters"]),
                                 intervals=list(zip(results["accuracy_low"], results["accuracy_high"],
                                                    strict=True)),
                                 baseline=majority, title="Test accuracy vs latency (marker area: parameters)")
    scatter.savefig(output / "pareto.png")
    table = summary(results, extra=["truncated_test_examples", "pareto_optimal"])
    table = table.rename(columns=REPORT_COLUMNS)
    task_line = (f"Task: **{results['task'].iloc[0]}**, {int(results['train_examples'].max()):,} training, "
                 + (f"{int(results['validation_examples'].iloc[0]):,} validation " if "validation_examples" in results
                    else "") + f"and {int(results['test_examples'].iloc[0]):,} test examples.")
    lines = [f"# {title}", "", task_line, ""]
    if source:
        lines += [f"Data: `{source['file']}` (sha256 `{source['sha256'][:16]}...`): {source['rows_read']:,} rows "
                  f"read, {source['rows_kept']:,} kept"
                  + (f", {source['rows_dropped']:,} dropped ({source['dropped']['reason']}; data rows "
                     f"{', '.join(map(str, source['dropped']['data_rows'][:20]))}"
                     f"{', ...' if source['rows_dropped'] > 20 else ''})" if source.get("rows_dropped") else "")
                  + ".", ""]
    if recommendations:
        lines += ["## Recommendations", "",
                  "Each choice is made on the **validation** split; the chosen model's **test** score is then "
                  "reported once (choosing by test score would make it optimistic).", ""]
        for budget, recommendation in recommendations.items():
            lines += [f"**{budget}.** " + recommendation.rationale.replace("\n", "  \n"), ""]
    lines += ["## Results", "", _markdown_table(table), "",
              "Accuracy and F1 carry 95% percentile-bootstrap intervals over the test set"
              + (f"; always answering the most frequent training class ({results['majority_class'].iloc[0]!r}) "
                 f"would score {majority:.3f} on test" if majority is not None else "")
              + ". Latency is the median time to classify one example (batch 1) on the machine that ran the "
              "comparison."
              + (" The gender-swap flip rate is the share of test texts with a gendered word whose predicted label "
                 "changes when every gendered word is swapped (she/he, her/his, woman/man, first names; "
                 "`labkit.bias.swap_gender`), over the "
                 + _pairs_text(results) + "; a fair model scores near 0, and a constraint on it "
                 "(`--max-flip-rate`) reads the validation split's rate." if "counterfactual_flip_rate" in results
                 else ""), ""]
    if "truncated_test_examples" in results:
        for row in results.dropna(subset=["truncated_test_examples"]).itertuples():
            if row.truncated_test_examples:
                lines.append(f"- {row.candidate}: {int(row.truncated_test_examples):,} of {int(row.test_examples):,} "
                             f"test texts were longer than {int(row.max_length)} tokens and were truncated "
                             "(raise `--max-length` to keep more, at a cost in latency).")
        lines.append("")
    lines += ["![accuracy](accuracy.png)", "", "![pareto](pareto.png)", ""]
    if comparisons:
        lines += ["## Paired comparisons (test split)", ""]
        lines += [f"- {c['verdict']} McNemar ({c['mcnemar_method']}): p = {c['mcnemar_p']:.3g}." for c in comparisons]
        lines.append("")
    if provenance_record:
        lines += ["## How this was produced", "", "```", json.dumps(provenance_record, indent=2), "```", ""]
    path = output / "report.md"
    path.write_text("\n".join(lines))
    return path


def _pairs_text(results: pd.DataFrame) -> str:
    """How many test texts the flip rate is measured on (the same for every candidate of one task)."""
    pairs = pd.to_numeric(results.get("counterfactual_pairs"), errors="coerce").dropna().astype(int).unique()
    return (f"{pairs[0]:,} test texts that have one" if len(pairs) == 1
            else "test texts that have one")


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, (bool, np.bool_)):
            return "yes" if value else ""
        if isinstance(value, (int, np.integer)):
            return f"{value:,}"
        if isinstance(value, (float, np.floating)):
            return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3f}"
        return str(value)

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
