"""What truncation costs: the same fine-tuning run at several input lengths (``max_length`` tokens).

A transformer reads at most ``max_length`` tokens; a longer text is cut. Reuters stories are often
longer than the 128 tokens the kit's ``reuters`` task uses, so MiniLM is fine-tuned with the same recipe
and seed at other lengths, one result folder each (``minilm-l6-len64``, ``minilm-l6-len128``,
``minilm-l6-len256``), in the selection-table format: accuracy, training time and latency side by side.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.compression.records import copy_result_folder, read_record, write_result_folder
from labkit.errors import ConfigError


def truncation_name(model: str, max_length: int) -> str:
    """The candidate name of a run at ``max_length`` tokens, e.g. ``minilm-l6-len256``."""
    return f"{model}-len{max_length}"


def _run_key(model: str, seed: int, max_length: int) -> dict[str, Any]:
    from labkit.selection import Candidate

    candidate = Candidate(model)
    recipe = candidate.recipe()
    return {"candidate": dataclasses.asdict(candidate), "seed": seed, "train_limit": None,
            "recipe": {} if recipe is None else recipe.as_dict(), "max_length": max_length}


def truncation_runs(max_lengths: Sequence[int], output: str | Path, *, task: str = "reuters", model: str = "minilm-l6",
                    seed: int = 0, reference: str | Path | None = None, progress: bool = True,
                    log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Fine-tune ``model`` on the shipped ``task`` at each of ``max_lengths``; one folder each under ``output``.

    A length equal to the task's own ``max_length`` whose run is already in ``reference`` (a
    ``finetune-<task>`` results folder with the same recipe and seed) is copied from there instead of
    trained again (its record says so). Finished lengths are skipped; a run in progress resumes from
    ``<output>/.partial/<name>.pt``. Returns the records.
    """
    from labkit.selection import Candidate, builtin_task, run_candidate

    if not max_lengths:
        raise ConfigError("give at least one max_length")
    bad = [length for length in max_lengths if isinstance(length, bool) or not isinstance(length, int)
           or not 8 <= length <= 512]
    if bad:
        raise ConfigError(f"max_length must be a whole number of tokens between 8 and 512 (BERT's position "
                          f"limit), got {bad}")
    output = Path(output)
    records = []
    for max_length in max_lengths:
        name = truncation_name(model, max_length)
        folder = output / name
        key = _run_key(model, seed, max_length)
        done = read_record(folder)
        if done is not None and done.get("run_key") == key:
            log(f"{name}: already done, skipped")
            records.append(done)
            continue
        task_object = builtin_task(task)
        if reference is not None and max_length == task_object.max_length:
            copied = _copy_reference(Path(reference) / model, folder, name, key)
            if copied is not None:
                log(f"{name}: copied from {Path(reference) / model}")
                records.append(copied)
                continue
        task_object.max_length = max_length
        checkpoint = output / ".partial" / f"{name}.pt"
        log(f"{name}: {'resuming' if checkpoint.is_file() else 'running'}")
        run = run_candidate(Candidate(model), task_object, seed=seed, checkpoint=checkpoint, progress=progress)
        record = {**run.record, "candidate": name, "run_key": key}
        write_result_folder(folder, record, predictions=run.predictions,
                            validation_predictions=run.validation_predictions, history=run.history)
        checkpoint.unlink(missing_ok=True)
        if checkpoint.parent.is_dir() and not any(checkpoint.parent.iterdir()):
            checkpoint.parent.rmdir()
        log(f"{name}: validation accuracy {record['validation_accuracy']:.3f}, test {record['accuracy']:.3f}, "
            f"{record['train_seconds']:.0f} s")
        records.append(record)
    return records


def _copy_reference(source: Path, folder: Path, name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """Copy an identical run (same model, recipe, seed and length) from another results folder, or None."""
    from labkit.finetune import FineTuneRecipe

    record = read_record(source)
    if record is None:
        return None
    saved = record.get("run_key") or {}
    same = (saved.get("seed") == key["seed"] and saved.get("train_limit") is None
            and record.get("settings", {}).get("max_length") == key["max_length"]
            and FineTuneRecipe.from_dict(saved.get("recipe") or {}) == FineTuneRecipe.from_dict(key["recipe"]))
    if not same:
        return None
    return copy_result_folder(source, folder, candidate=name, run_key=key)


def remeasure_latency(output: str | Path, max_lengths: Sequence[int], *, task: str = "reuters",
                      model: str = "minilm-l6", rounds: int = 3, latency_examples: int = 200,
                      log: Callable[[str], None] = print) -> pd.DataFrame:
    """Time every length's model again, all in one process in interleaved rounds; update the cost columns.

    The runs trained at different times on a shared machine, so the latency each measured after its
    training is not comparable across lengths. Inference cost depends on the architecture and the input
    length, not on the trained weights, so each length is timed with the model rebuilt from random
    weights (``labkit.selection.remeasure_latency`` does the same for a comparison folder) on the same
    test texts cut at its ``max_length``. Each cost column becomes the median over ``rounds``.
    """
    from functools import partial

    from labkit import finetune
    from labkit.files import write_json_atomically
    from labkit.selection import builtin_task, inference_costs

    output = Path(output)
    task_object = builtin_task(task)
    label_names = finetune.check_dataset(task_object.dataset)
    tokenizer, network = finetune.load_classifier(model, len(label_names), "random")
    network.eval()
    texts = list(task_object.dataset["test"][task_object.text_column])[:latency_examples]
    measured: dict[int, list[dict[str, Any]]] = {length: [] for length in max_lengths}
    for round_index in range(rounds):
        shift = round_index % len(max_lengths)
        for length in list(max_lengths)[shift:] + list(max_lengths)[:shift]:
            predict = partial(finetune.predict_proba, network, tokenizer, max_length=length)
            measured[length].append(inference_costs(predict, texts, "cpu"))
    stamp = time.strftime("%Y-%m-%d %H:%M %Z")
    for length, rows in measured.items():
        folder = output / truncation_name(model, length)
        record = read_record(folder)
        if record is None:
            continue
        frame = pd.DataFrame(rows)
        record.update({column: float(frame[column].median()) for column in
                       ("latency_ms_p50", "latency_ms_p95", "batched_ms_per_example", "throughput_per_second")})
        record["latency_threads"], record["latency_device"] = int(frame["latency_threads"].iloc[0]), str(
            frame["latency_device"].iloc[0])
        record["latency_measured"] = (f"re-measured with every length of this folder: median of {rounds} interleaved "
                                      f"rounds on the first {len(texts)} test stories, {stamp}")
        write_json_atomically(folder / "record.json", record)
        log(f"{folder.name}: {record['latency_ms_p50']:.1f} ms per story at batch 1")
    return truncation_table(output)


def truncation_table(output: str | Path) -> pd.DataFrame:
    """The shipped truncation runs as a table, shortest ``max_length`` first."""
    from labkit.selection import load_results

    table = load_results(output)
    return table.sort_values("max_length", ignore_index=True)

