"""The shipped compression runs behind ``labkit compress JOB``: each writes result folders and provenance.

==================  ===========================================================  ================================
job                 what it does                                                 default output (data/results/)
==================  ===========================================================  ================================
``teacher-logits``  the teacher's (``minilm-l6-sentiment``) logits on the movie   ``compress-sentiment``
                    training set, once: ``teacher_logits.parquet``
``distil``          tiny-bert distilled from those logits: ``alpha`` and ``T``    ``compress-sentiment``
                    chosen on validation (``distillation-grid/``), then seeds 0,
                    1, 2 beside tiny-bert on hard labels (copied from
                    ``finetune-sentiment``), with paired comparisons
                    (``distillation.json``)
``quantise``        int8 MiniLM and int8 tiny-bert sentiment classifiers beside   ``compress-sentiment``
                    their float models: accuracy, size on disk, latency at batch
                    1 and 32, all timed in one run (``quantisation.json``)
``reuters-length``  MiniLM fine-tuned on Reuters at 64, 128 and 256 tokens        ``finetune-reuters-length``
                    (``truncation``), then every length's latency re-measured
                    in one run
``length-scaling``  encoder time and memory from 32 to 512 tokens (eager           ``length-scaling``
                    attention, with and without attention) for MiniLM and
                    tiny-bert, and to 2,048 for a synthetic d = 64 encoder
                    (``length_scaling``): one CSV each, with the fitted cost model
==================  ===========================================================  ================================

Every job is resumable: what is finished is skipped, and a training run in progress resumes from its
checkpoint under ``<output>/.partial/``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.compression.records import classifier_record, copy_result_folder, read_record, write_result_folder
from labkit.errors import ConfigError, MissingFileError
from labkit.files import write_atomically, write_json_atomically
from labkit.reproducibility import load_average

JOBS = ("teacher-logits", "distil", "quantise", "reuters-length", "length-scaling")
DEFAULT_OUTPUTS = {"teacher-logits": "compress-sentiment", "distil": "compress-sentiment",
                   "quantise": "compress-sentiment", "reuters-length": "finetune-reuters-length",
                   "length-scaling": "length-scaling"}
# what ``length-scaling`` times: name -> (registered model or None for the synthetic encoder, lengths)
LENGTH_SCALING = {"minilm-l6": ("minilm-l6", (32, 64, 128, 256, 512)),
                  "tiny-bert": ("tiny-bert", (32, 64, 128, 256, 512)),
                  "synthetic-d64": (None, (32, 64, 128, 256, 512, 1024, 2048))}
TEACHER = "minilm-l6-sentiment"
STUDENT = "tiny-bert"
DISTILLED = "tiny-bert-distilled"
# the fine-tuned classifiers that are quantised: short name -> (registered model, its run in finetune-sentiment)
QUANTISED = {"minilm-l6": ("minilm-l6-sentiment", "minilm-l6"), "tiny-bert": ("tiny-bert-sentiment", "tiny-bert")}
SIZE_DEFINITION = "bytes of torch.save(model.state_dict(), file)"


def _results_dir() -> Path:
    from labkit.paths import data_dir

    return data_dir() / "results"


def default_output(job: str) -> Path:
    """Where ``job`` writes by default: a folder under the kit's ``data/results``."""
    _check_job(job)
    return _results_dir() / DEFAULT_OUTPUTS[job]


def _check_job(job: str) -> None:
    if job not in JOBS:
        raise ConfigError(f"unknown compression job {job!r}; choose one of: {', '.join(JOBS)}")


def _training_json(model: str) -> dict[str, Any]:
    from labkit.models import resolve

    return json.loads((Path(resolve(model)) / "training.json").read_text())


# Teacher logits


def teacher_logits_job(output: str | Path, *, teacher: str = TEACHER, log: Callable[[str], None] = print) -> Path:
    """Compute the teacher's logits on the movie training set once: ``<output>/teacher_logits.parquet``.

    Columns ``id``, ``label``, ``logit_<class>``; ``teacher_logits.json`` beside it says which teacher,
    at which ``max_length``, how long it took and how often the teacher agrees with the training labels.
    """
    from labkit import data, finetune, models
    from labkit.compression.distillation import logits_frame, teacher_logits

    path = Path(output) / "teacher_logits.parquet"
    if path.is_file():
        log(f"{path.name}: already computed, skipped")
        return path
    training = _training_json(teacher)
    dataset = data.load_sentiment("movies")
    label_names = finetune.check_dataset(dataset)
    if list(training["label_names"]) != label_names:
        raise ConfigError(f"{teacher} predicts {training['label_names']}, the movie snippets have {label_names}")
    tokenizer, model = models.load(teacher, task="sequence-classification")
    train = dataset["train"]
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    logits = teacher_logits(model, tokenizer, list(train["text"]), max_length=int(training["max_length"]))
    seconds, cpu_seconds = time.perf_counter() - start_wall, time.process_time() - start_cpu
    frame = logits_frame(list(train["id"]), list(train["label"]), logits, label_names)
    write_atomically(path, lambda temporary: frame.to_parquet(temporary, index=False))
    agreement = float((logits.argmax(axis=1) == np.asarray(train["label"])).mean())
    write_json_atomically(path.with_suffix(".json"), {
        "teacher": teacher, "split": "train", "rows": len(frame), "max_length": int(training["max_length"]),
        "seconds": seconds, "cpu_seconds": cpu_seconds, "teacher_train_accuracy": agreement,
        "columns": "id (the snippet's id in data/sentiment/movies.parquet), label, logit_<class> (before softmax)"})
    log(f"{path.name}: {len(frame)} rows in {seconds:.0f} s; the teacher agrees with {agreement:.1%} of the labels")
    return path


def load_teacher_logits(output: str | Path) -> pd.DataFrame:
    """The shipped teacher logits (``teacher_logits_job``'s table)."""
    path = Path(output) / "teacher_logits.parquet"
    if not path.is_file():
        raise MissingFileError(f"no teacher logits at {path} (run `labkit compress teacher-logits` first)")
    return pd.read_parquet(path)


# Distillation


def _size_of_pretrained(model: Any) -> int:
    from labkit.evaluation import size_on_disk

    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        return size_on_disk(folder)


def _distillation_key(settings: Any, seed: int) -> dict[str, Any]:
    from labkit import finetune

    return {"student": STUDENT, "teacher": TEACHER, "seed": seed, "alpha": settings.alpha,
            "temperature": settings.temperature, "recipe": finetune.recipe_for(STUDENT).as_dict()}


def distillation_run(output: str | Path, folder: str | Path, name: str, settings: Any, seed: int, *,
                     progress: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Distil the teacher into tiny-bert with ``settings`` and ``seed``; write ``folder`` (skipped if done)."""
    from labkit import finetune
    from labkit.compression.distillation import distil, logits_for
    from labkit.selection import builtin_task

    folder = Path(folder)
    key = _distillation_key(settings, seed)
    done = read_record(folder)
    if done is not None and done.get("run_key") == key:
        log(f"{name} (seed {seed}): already done, skipped")
        return done
    task = builtin_task("sentiment")
    label_names = finetune.check_dataset(task.dataset)
    logits = logits_for(load_teacher_logits(output), list(task.dataset["train"]["id"]), label_names)
    checkpoint = Path(output) / ".partial" / f"{name}-seed-{seed}.pt"
    log(f"{name} (seed {seed}): {'resuming' if checkpoint.is_file() else 'running'}")
    result = distil(STUDENT, task.dataset, logits, settings, max_length=task.max_length, seed=seed,
                    progress=progress, checkpoint=checkpoint)
    predict = partial(finetune.predict_proba, result.model, result.tokenizer, max_length=task.max_length)
    record = classifier_record(task=task, candidate=name, model=STUDENT, predict=predict,
                               label_names=result.label_names, validation=result.validation_predictions,
                               test=result.predictions, parameters=result.parameters,
                               trainable_parameters=result.trainable_parameters,
                               size_bytes=_size_of_pretrained(result.model), train_seconds=result.train_seconds,
                               train_cpu_seconds=result.train_cpu_seconds, settings=result.config, seed=seed,
                               tokenizer=result.tokenizer, max_length=task.max_length)
    record.update({"teacher": TEACHER, "alpha": settings.alpha, "temperature": settings.temperature,
                   "teacher_logits": "teacher_logits.parquet (computed once; its seconds are in teacher_logits.json)",
                   "run_key": key})
    write_result_folder(folder, record, predictions=result.predictions,
                        validation_predictions=result.validation_predictions, history=result.history)
    checkpoint.unlink(missing_ok=True)
    log(f"{name} (seed {seed}): validation accuracy {record['validation_accuracy']:.3f}, test "
        f"{record['accuracy']:.3f}, {record['train_seconds']:.0f} s")
    return record


def choose_distillation_settings(grid_records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The grid run with the best validation accuracy (a tie goes to the earlier run of the grid)."""
    if not grid_records:
        raise ConfigError("no grid runs to choose from")
    return max(grid_records, key=lambda record: record["validation_accuracy"])  # max keeps the first of a tie


def distillation_job(output: str | Path, seeds: Sequence[int] = (0, 1, 2), *, progress: bool = True,
                     log: Callable[[str], None] = print) -> dict[str, Any]:
    """Choose ``alpha`` and ``T`` on validation (seed 0), then distil with every seed; compare with hard labels.

    Writes ``distillation-grid/<name>/`` for each grid point, ``<seed folder>/tiny-bert-distilled/`` and
    ``<seed folder>/tiny-bert/`` (the hard-label run of ``finetune-sentiment`` with the same seed, copied),
    and ``distillation.json``: the choice, and paired comparisons per seed and across seeds.
    """
    from labkit.compression.distillation import DISTILLATION_GRID, DistillationSettings
    from labkit.selection import paired_comparison, seed_folder, seed_paired_difference

    output = Path(output)
    if not seeds or 0 not in seeds:
        raise ConfigError("the distillation job needs seed 0 (alpha and T are chosen on its validation accuracy)")
    teacher_logits_job(output, log=log)
    grid = []
    for alpha, temperature in DISTILLATION_GRID:
        settings = DistillationSettings(alpha, temperature)
        name = f"{DISTILLED}-{settings.name}"
        grid.append(distillation_run(output, output / "distillation-grid" / name, name, settings, 0,
                                     progress=progress, log=log))
    chosen = choose_distillation_settings(grid)
    settings = DistillationSettings(chosen["alpha"], chosen["temperature"])
    log(f"chosen on validation: alpha {settings.alpha:g}, T {settings.temperature:g} "
        f"(validation accuracy {chosen['validation_accuracy']:.3f})")
    finetune_results = _results_dir() / "finetune-sentiment"
    comparisons = {}
    for seed in seeds:
        folder = seed_folder(output, seed)
        if seed == 0:
            copy_result_folder(output / "distillation-grid" / chosen["candidate"], folder / DISTILLED,
                               candidate=DISTILLED)
        else:
            distillation_run(output, folder / DISTILLED, DISTILLED, settings, seed, progress=progress, log=log)
        source = seed_folder(finetune_results, seed) / STUDENT
        if not (folder / STUDENT).is_dir():
            copy_result_folder(source, folder / STUDENT)
        comparisons[str(seed)] = paired_comparison(folder, STUDENT, DISTILLED, seed=seed)
    across = seed_paired_difference(output, STUDENT, DISTILLED) if len(seeds) > 1 else None
    summary = {
        "grid": [{key: record[key] for key in ("candidate", "alpha", "temperature", "validation_accuracy",
                                                "validation_accuracy_low", "validation_accuracy_high",
                                                "train_seconds")} for record in grid],
        "chosen": {"alpha": settings.alpha, "temperature": settings.temperature,
                   "rule": "best validation accuracy of seed 0 over the grid (a tie goes to the earlier grid point)"},
        "teacher": TEACHER, "student": STUDENT, "seeds": list(seeds),
        "paired_per_seed": comparisons, "paired_across_seeds": across,
        "a_and_b": f"a = {STUDENT} on hard labels (finetune-sentiment, same recipe and seed), b = {DISTILLED}",
    }
    write_json_atomically(output / "distillation.json", summary)
    return summary


# Quantisation


def _evaluate_split(predict: Callable[[Sequence[str]], np.ndarray], dataset: Any,
                    label_names: list[str]) -> pd.DataFrame:
    from labkit.finetune.classifier import _predictions_frame

    texts = list(dataset["text"])
    return _predictions_frame(texts, np.asarray(dataset["label"]), predict(texts), label_names)


def _float_and_int8_classifiers() -> dict[str, dict[str, Any]]:
    """``{short name: {"tokenizer", "float", "int8", "max_length", "quantise_seconds", "predict": {kind: fn}}}``."""
    from labkit import finetune, models
    from labkit.compression import quantisation

    loaded: dict[str, dict[str, Any]] = {}
    for short, (registered, _) in QUANTISED.items():
        tokenizer, model = models.load(registered, task="sequence-classification")
        max_length = int(_training_json(registered)["max_length"])
        start = time.perf_counter()
        int8 = quantisation.quantise_dynamic(model)
        parts = {"tokenizer": tokenizer, "float": model, "int8": int8, "max_length": max_length,
                 "quantise_seconds": time.perf_counter() - start}
        parts["predict"] = {kind: partial(finetune.predict_proba, parts[kind], tokenizer, max_length=max_length)
                            for kind in ("float", "int8")}
        loaded[short] = parts
    return loaded


def _interleaved_costs(loaded: dict[str, dict[str, Any]], texts: Sequence[str], rounds: int,
                       log: Callable[[str], None]) -> tuple[dict[str, dict[str, Any]], pd.DataFrame]:
    """The cost columns of every ``<short>-<kind>`` model, all timed in the same interleaved rounds."""
    import torch

    from labkit.compression import quantisation

    predictors = {f"{short}-{kind}": parts["predict"][kind] for short, parts in loaded.items()
                  for kind in ("float", "int8")}
    log(f"timing {', '.join(predictors)} at batch 1 and 32 in {rounds} interleaved rounds")
    latency = quantisation.compare_latency(predictors, list(texts), batch_sizes=(1, 32), rounds=rounds)
    stamp = time.strftime("%Y-%m-%d %H:%M %Z")
    costs = {}
    for name in predictors:
        one = latency[(latency["model"] == name) & (latency["batch_size"] == 1)].iloc[0]
        many = latency[(latency["model"] == name) & (latency["batch_size"] == 32)].iloc[0]
        costs[name] = {"latency_ms_p50": float(one["per_example_ms_p50"]),
                       "latency_ms_p95": float(one["per_example_ms_p95"]),
                       "batched_ms_per_example": float(many["per_batch_ms_p50"]) / 32,
                       "throughput_per_second": float(many["examples_per_second"]),
                       "batch32_ms_p50": float(many["per_batch_ms_p50"]),
                       "batch32_ms_per_example": float(many["per_batch_ms_p50"]) / 32,
                       "latency_threads": torch.get_num_threads(), "latency_device": str(one["device"]),
                       "latency_measured": f"labkit compress quantise: batch 1 and 32 on the first {len(texts)} test "
                                           f"texts, median of {rounds} interleaved rounds with every model of this "
                                           f"folder, {stamp}"}
    return costs, latency


def _quantised_pair(output: Path, short: str, parts: dict[str, Any], costs: dict[str, dict[str, Any]], task: Any,
                    label_names: list[str], texts: Sequence[str]) -> dict[str, Any]:
    """Evaluate one classifier in float and int8, write their folders, return the summary of the pair."""
    from labkit.compression import quantisation
    from labkit.evaluation import count_parameters
    from labkit.selection import paired_comparison

    registered, run = QUANTISED[short]
    reference = read_record(_results_dir() / "finetune-sentiment" / run)
    if reference is None:
        raise MissingFileError(f"no finished run finetune-sentiment/{run} to carry the training columns from")
    frames = {kind: {split: _evaluate_split(parts["predict"][kind], task.dataset[split], label_names)
                     for split in ("validation", "test")} for kind in ("float", "int8")}
    sizes = {kind: quantisation.saved_size_bytes(parts[kind]) for kind in ("float", "int8")}
    logits = [quantisation.logits_of(parts[kind], parts["tokenizer"], texts, parts["max_length"])
              for kind in ("float", "int8")]
    agreement = quantisation.output_agreement(*logits)
    counts = count_parameters(parts["float"])
    share = quantisation.linear_share(parts["float"])
    common = {"task": task, "model": short, "label_names": label_names, "parameters": counts.total,
              "tokenizer": parts["tokenizer"], "max_length": parts["max_length"], "seed": 0,
              "train_cpu_seconds": reference["train_cpu_seconds"], "settings": reference["settings"]}
    int8_name = f"{short}-int8"
    int8_record = classifier_record(
        candidate=int8_name, predict=parts["predict"]["int8"], validation=frames["int8"]["validation"],
        test=frames["int8"]["test"], trainable_parameters=0, size_bytes=sizes["int8"],
        train_seconds=reference["train_seconds"] + parts["quantise_seconds"], costs=costs[int8_name], **common)
    int8_record.update({"quantised_from": registered, "quantisation": quantisation.QUANTISATION_API,
                        "quantise_seconds": parts["quantise_seconds"], "float_size_mb": sizes["float"] / 1e6,
                        "linear_share": share, "size_definition": SIZE_DEFINITION,
                        "parameters_note": "the float model's weights, those of its Linear layers stored in int8",
                        "train_seconds_note": "the float model's training plus the quantisation"})
    write_result_folder(output / int8_name, int8_record, predictions=frames["int8"]["test"],
                        validation_predictions=frames["int8"]["validation"])
    float_costs = {**costs[f"{short}-float"], "size_mb": sizes["float"] / 1e6, "size_definition": SIZE_DEFINITION}
    if short == STUDENT:  # the hard-label seed-0 run is this very model: check, then update its costs only
        saved = pd.read_parquet(output / STUDENT / "predictions.parquet")
        same = float((saved["prediction"].to_numpy() == frames["float"]["test"]["prediction"].to_numpy()).mean())
        if same < 1.0:
            raise ValueError(f"{registered}'s test predictions differ from {output / STUDENT}'s "
                             f"({same:.1%} equal): not the same model")
        _update_costs(output / STUDENT, float_costs)
        _update_costs(output / DISTILLED, float_costs, note=f"measured as {STUDENT}: the same architecture "
                      "(inference cost does not depend on the trained weights)")
    else:
        float_record = classifier_record(
            candidate=short, predict=parts["predict"]["float"], validation=frames["float"]["validation"],
            test=frames["float"]["test"], trainable_parameters=counts.trainable, size_bytes=sizes["float"],
            train_seconds=reference["train_seconds"], costs=costs[f"{short}-float"], **common)
        float_record.update({"evaluated_from": registered, "size_definition": SIZE_DEFINITION,
                             "training_columns_from": f"finetune-sentiment/{run} (the run that trained it)",
                             **({"run_key": reference["run_key"]} if reference.get("run_key") else {})})
        write_result_folder(output / short, float_record, predictions=frames["float"]["test"],
                            validation_predictions=frames["float"]["validation"])
    float_test = frames["float"]["test"]
    return {"registered": registered, "max_length": parts["max_length"],
            "float_accuracy": float((float_test["label"] == float_test["prediction"]).mean()),
            "int8_accuracy": int8_record["accuracy"], "int8_accuracy_low": int8_record["accuracy_low"],
            "int8_accuracy_high": int8_record["accuracy_high"],
            "majority_class_rate": int8_record["majority_class_rate"],
            "paired_float_vs_int8": paired_comparison(output, short, int8_name),
            "float_size_mb": sizes["float"] / 1e6, "int8_size_mb": sizes["int8"] / 1e6, "linear_share": share,
            "agreement_on_latency_texts": vars(agreement), "quantise_seconds": parts["quantise_seconds"],
            "float_latency_ms_p50": costs[f"{short}-float"]["latency_ms_p50"],
            "int8_latency_ms_p50": costs[int8_name]["latency_ms_p50"],
            "float_batch32_ms_p50": costs[f"{short}-float"]["batch32_ms_p50"],
            "int8_batch32_ms_p50": costs[int8_name]["batch32_ms_p50"]}


def quantisation_job(output: str | Path, *, rounds: int = 3, latency_texts: int = 256,
                     log: Callable[[str], None] = print) -> dict[str, Any]:
    """Quantise the MiniLM and tiny-bert sentiment classifiers to int8 and measure both versions.

    Writes ``minilm-l6/`` (the float MiniLM classifier as shipped, evaluated here), ``minilm-l6-int8/``,
    ``tiny-bert-int8/`` and updates the cost columns of ``tiny-bert/`` (the hard-label run that *is*
    ``tiny-bert-sentiment``, after checking its saved predictions equal the shipped model's) and of
    ``tiny-bert-distilled/`` (same architecture), so that every latency in the folder comes from one
    interleaved measurement. ``quantisation.json`` holds the before/after summary.
    """
    from labkit import finetune
    from labkit.compression import quantisation
    from labkit.selection import builtin_task

    output = Path(output)
    task = builtin_task("sentiment")
    label_names = finetune.check_dataset(task.dataset)
    if not (output / STUDENT).is_dir():
        copy_result_folder(_results_dir() / "finetune-sentiment" / STUDENT, output / STUDENT)
    loaded = _float_and_int8_classifiers()
    texts = list(task.dataset["test"]["text"])[:latency_texts]
    costs, latency = _interleaved_costs(loaded, texts, rounds, log)
    summary: dict[str, Any] = {"api": quantisation.QUANTISATION_API, "size_definition": SIZE_DEFINITION,
                               "latency": latency.to_dict(orient="records"), "models": {}}
    for short, parts in loaded.items():
        pair = _quantised_pair(output, short, parts, costs, task, label_names, texts)
        summary["models"][short] = pair
        log(f"{short}: accuracy {pair['float_accuracy']:.3f} -> {pair['int8_accuracy']:.3f}, "
            f"{pair['float_size_mb']:.1f} MB -> {pair['int8_size_mb']:.1f} MB, batch-1 p50 "
            f"{pair['float_latency_ms_p50']:.1f} -> {pair['int8_latency_ms_p50']:.1f} ms")
    write_json_atomically(output / "quantisation.json", {**summary, "load_average": load_average()})
    return summary


def _update_costs(folder: Path, costs: dict[str, Any], note: str | None = None) -> None:
    """Replace the cost columns of a finished result folder's record (nothing else changes)."""
    record = read_record(folder)
    if record is None:
        return
    record.update({key: value for key, value in costs.items()})
    if note:
        record["latency_note"] = note
    write_json_atomically(folder / "record.json", record)


# The command


def run_job(job: str, *, output: str | Path | None = None, seeds: Sequence[int] = (0,),
            max_lengths: Sequence[int] = (64, 128, 256), command: str = "labkit compress",
            progress: bool = True, log: Callable[[str], None] = print) -> Any:
    """Run one shipped job (see the table above); record its provenance in ``<output>/provenance.json``."""
    from labkit.compression import truncation
    from labkit.selection import record_provenance

    _check_job(job)
    output = Path(output) if output is not None else default_output(job)
    if job == "reuters-length":
        if len(seeds) != 1:
            raise ConfigError("reuters-length runs one seed (its folders are named by length only); give one --seeds")
        result: Any = []
        for seed in seeds:
            result += truncation.truncation_runs(list(max_lengths), output, seed=seed,
                                                 reference=_results_dir() / "finetune-reuters",
                                                 progress=progress, log=log)
        truncation.remeasure_latency(output, list(max_lengths), log=log)
        record_provenance(output, command, min(seeds))
        return truncation.truncation_table(output)
    if job == "length-scaling":
        from labkit.compression.length_scaling import length_scaling_job

        result = length_scaling_job(output, LENGTH_SCALING, log=log)
    elif job == "teacher-logits":
        result = teacher_logits_job(output, log=log)
    elif job == "distil":
        result = distillation_job(output, list(seeds), progress=progress, log=log)
    else:
        result = quantisation_job(output, log=log)
    record_provenance(output, command, min(seeds))
    return result
