"""Compare candidate models on a task, with evidence: one tidy results table, cached and resumable.

A *candidate* is a way to get a classifier: a registered model fine-tuned in full
(``"tiny-bert"``), the same architecture from random initialisation (``"tiny-bert:random"``), a
frozen encoder with a trained head (``"minilm-l6:frozen"``), the TF-IDF + logistic regression
baseline (``"tfidf-lr"``), or a Hub id when online. ``compare`` runs each candidate on a task,
measures quality (with bootstrap confidence intervals), cost (parameters, size, training time,
latency), cross-domain accuracy and fairness (the gender-swap flip rate), and writes one folder per candidate:

    <output>/<candidate>/record.json                    the row of the results table
    <output>/<candidate>/validation_predictions.parquet  validation predictions with probabilities
    <output>/<candidate>/predictions.parquet             test predictions with probabilities
    <output>/<candidate>/history.csv                     validation curve during training

Models are *chosen* on validation (``recommend`` ranks by the ``validation_*`` columns); the test
columns are the chosen model's report. A folder is written atomically once its candidate has
finished, and a transformer in progress saves a checkpoint after every validation check
(``<output>/.partial/<candidate>.pt``), so an interrupted run picks up where it stopped; a rerun
skips every candidate already done with the same settings. Other seeds of the same comparison go to
``<output>/seed-<n>/`` (``seed_paired_difference`` reads them all).

The package, one concept per file: ``candidates`` (specs and recipes), ``tasks`` (shipped tasks and a
user's CSV), ``running`` (``compare``, ``run_candidate``), ``latency`` (the cost columns), ``results``
(reading folders back), ``statistics`` (paired and seed-level differences, the optimism of choosing on
test), ``curves`` (learning curves), ``recommendation`` (Pareto front, ``recommend``), ``report``
(``write_report``), ``probes`` (what pretrained features bring), ``fairness`` (the counterfactual
flip rate, a selection criterion like latency) and ``provenance``.
"""

from labkit.finetune.recipe import FROZEN_LEARNING_RATE, RANDOM_INIT_RECIPES, RECIPES
from labkit.selection.candidates import Candidate, candidate_licence, parse_candidate
from labkit.selection.curves import learning_curve, learning_curve_over_seeds, load_learning_curve, small_data_recipe
from labkit.selection.fairness import FAIRNESS_MEASURE, add_fairness, candidate_fairness, fairness_columns
from labkit.selection.latency import inference_costs, remeasure_latency
from labkit.selection.probes import frozen_feature_probes, load_probes
from labkit.selection.provenance import provenance, record_provenance
from labkit.selection.recommendation import DEFAULT_OBJECTIVES, Recommendation, pareto_front, recommend
from labkit.selection.report import REPORT_COLUMNS, write_report
from labkit.selection.results import (
                                      SUMMARY_COLUMNS,
                                      load_history,
                                      load_predictions,
                                      load_results,
                                      results_table,
                                      seed_folder,
                                      seeds_in,
                                      summary,
)
from labkit.selection.running import (
                                      CandidateRun,
                                      compare,
                                      majority_class_rates,
                                      quality_columns,
                                      run_candidate,
                                      same_run,
)
from labkit.selection.statistics import (
                                      ChoiceOptimism,
                                      choice_optimism,
                                      correctness,
                                      paired_comparison,
                                      seed_paired_difference,
)
from labkit.selection.tasks import Task, builtin_task, csv_task

__all__ = [
    "Candidate", "CandidateRun", "ChoiceOptimism", "DEFAULT_OBJECTIVES", "FAIRNESS_MEASURE",
    "FROZEN_LEARNING_RATE", "RANDOM_INIT_RECIPES", "RECIPES", "REPORT_COLUMNS", "Recommendation", "SUMMARY_COLUMNS",
    "Task", "builtin_task", "add_fairness", "candidate_fairness", "candidate_licence", "choice_optimism", "compare",
    "correctness", "csv_task", "fairness_columns", "frozen_feature_probes",
    "inference_costs", "learning_curve", "learning_curve_over_seeds", "load_history", "load_learning_curve",
    "load_predictions", "load_probes", "load_results", "majority_class_rates", "paired_comparison", "pareto_front",
    "parse_candidate", "provenance", "quality_columns", "recommend", "record_provenance", "remeasure_latency",
    "results_table", "run_candidate", "same_run", "seed_folder", "seed_paired_difference", "seeds_in",
    "small_data_recipe", "summary", "write_report",
]
