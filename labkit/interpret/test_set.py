"""Explaining a whole test set: the job behind ``labkit explain``, whose results ship in ``data/results/``.

A notebook has two minutes; explaining 1,057 reviews with integrated gradients, occlusion, the
faithfulness measures and the randomisation sanity check takes longer. :func:`explain_test_set` does it
once and writes, in its output folder:

* ``examples.parquet``: one row per test review, in test-split order: ``example`` (index in the test
  split), ``label``, ``prediction``, ``target`` (the class explained: the prediction), ``probability_<class>``
  per class, ``n_tokens`` (special tokens included), ``ig_f_input``, ``ig_f_baseline``, ``ig_gap``
  (integrated gradients' completeness gap ``sum(scores) - (f_input - f_baseline)``, in logit units);
* ``attributions.parquet``: one row per review and token position: ``example``, ``position``, ``token``,
  ``input_id`` and one float32 column per explanation (:data:`EXPLANATIONS`: the three methods of
  :func:`~labkit.interpret.attribution.attribute`, the last layer's head-averaged ``[CLS]`` attention row
  and rollout's ``[CLS]`` row), special tokens included;
* ``faithfulness_per_text.parquet`` and ``faithfulness.csv`` (:mod:`labkit.interpret.faithfulness`: each
  explanation against random tokens), ``agreement.parquet`` (Kendall's tau per review and pair of
  explanations), each with ``example`` beside the library's ``text`` index (the same number here);
* ``sanity.csv``: the cascading-randomisation check of each method on ``sanity_texts`` reviews drawn at
  random (seeded; the test split lists the positive reviews first, so its first reviews would be one class);
* ``word_importance.csv``: per method and per class explained, each word's mean score, total and count (a
  word's scores for one class cannot be averaged with its scores for the other, so reviews are grouped by
  the class they were explained for);
* ``record.json`` (model, task, methods and options, test accuracy beside the majority-class rate, seconds
  per stage, a hash of each stage's settings) and ``provenance.json``.

The job resumes: every file is written atomically; the attributions are computed in chunks saved under
``.partial/`` and reused by a re-run; a stage whose files exist and whose settings (the model's weights
included, by their hash) match is skipped.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ConfigError, MissingFileError
from labkit.files import write_atomically, write_json_atomically
from labkit.interpret.token_attribution import TokenAttribution

METHODS: tuple[str, ...] = ("gradient_x_input", "integrated_gradients", "occlusion")
"""The attribution methods the job runs (:func:`labkit.interpret.attribution.attribute`)."""
ATTENTION_ROWS: tuple[str, ...] = ("attention_last_cls", "rollout_cls")
"""The attention rows treated as explanations too: last layer's ``[CLS]`` row (heads averaged), rollout's."""
EXPLANATIONS: tuple[str, ...] = METHODS + ATTENTION_ROWS
STAGES: dict[str, tuple[str, ...]] = {
    "attributions": ("examples.parquet", "attributions.parquet"),
    "faithfulness": ("faithfulness_per_text.parquet", "faithfulness.csv"),
    "agreement": ("agreement.parquet",),
    "sanity": ("sanity.csv",),
    "word_importance": ("word_importance.csv",),
}
"""Each stage of the job and the files it writes, in the order they run."""
PARQUET = {"compression": "zstd", "index": False}


@dataclass
class _Job:
    """Everything a stage needs: the model, the reviews, the settings, where to write."""

    name: str
    tokenizer: Any
    model: Any
    texts: list[str]
    labels: np.ndarray  # (reviews,) class indices
    label_names: list[str]
    majority_class: int  # the training set's most frequent class
    max_length: int
    options: dict[str, dict[str, Any]]  # method -> attribute() options (max_length included)
    draws: int  # random rankings per review
    seed: int
    sanity_examples: list[int]  # the reviews of the sanity check (a seeded sample, in test-split order)
    chunk_size: int
    output: Path
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> what identifies its results
    progress: bool = True
    log: Callable[[str], None] = print


def explain_test_set(model: str | tuple[Any, Any], task: Any = "sentiment", output: str | Path | None = None, *,
                     limit: int | None = None, sanity_texts: int = 100, seed: int = 0, steps: int = 50,
                     replacement: str = "[PAD]", draws: int = 5, chunk_size: int = 100, name: str | None = None,
                     progress: bool = True, log: Callable[[str], None] = print,
                     command: str | None = None) -> dict[str, Any]:
    """Explain every test review of ``task`` with every method, measure faithfulness and agreement; save all.

    ``model``: a registered classifier's name (e.g. ``"tiny-bert-sentiment"``, loaded with eager
    attention) or a loaded ``(tokenizer, model)`` pair (a sequence classifier with eager attention; then
    ``name`` says what to call it). ``task``: a shipped task's name or a ``labkit.selection.Task``.
    ``output``: the folder (default ``data/results/explain-<task>/<name>``). The rest are keyword-only
    settings with defaults: ``limit`` (the first ``limit`` test reviews only), ``sanity_texts`` (reviews
    in the sanity check, a seeded random sample), ``seed`` (random draws, bootstrap, re-initialisation),
    ``steps`` (integrated gradients, Gauss-Legendre, from ``[CLS]`` + ``[PAD]``… + ``[SEP]``),
    ``replacement`` (occlusion's token), ``draws`` (random rankings per review), ``chunk_size`` (reviews
    per saved chunk), ``progress`` (bars), ``log`` (where messages go) and ``command`` (for
    ``provenance.json``).

    Returns the content of ``record.json``. See the module docstring for the files.
    """
    from labkit.selection import record_provenance

    job = _prepare(model, task, output, limit=limit, sanity_texts=sanity_texts, seed=seed, steps=steps,
                   replacement=replacement, draws=draws, chunk_size=chunk_size, name=name)
    job.progress, job.log = progress, log
    path = job.output / "record.json"
    record = {**(json.loads(path.read_text()) if path.is_file() else {}), **_description(job)}
    runners = {"attributions": _attributions_stage, "faithfulness": _faithfulness_stage,
               "agreement": _agreement_stage, "sanity": _sanity_stage, "word_importance": _word_importance_stage}
    for stage, run in runners.items():
        done = record.get("stages", {}).get(stage, {})
        if done.get("settings_sha256") == _settings_sha256(job.settings[stage]) and \
                all((job.output / file).is_file() for file in STAGES[stage]):
            log(f"{stage}: already done with these settings, skipped")
            continue
        log(f"{stage}: running")
        start = time.perf_counter()
        run(job)
        seconds = round(time.perf_counter() - start, 1)
        record.setdefault("stages", {})[stage] = {"settings_sha256": _settings_sha256(job.settings[stage]),
                                                  "seconds": seconds, "files": list(STAGES[stage])}
        record["seconds"] = {name: info["seconds"] for name, info in record["stages"].items()}
        write_json_atomically(path, {**record, **_accuracy(job)})
        log(f"{stage}: done in {seconds:.0f} s")
    record.update(_accuracy(job))
    write_json_atomically(path, record)
    record_provenance(job.output, command or f"explain_test_set({job.name!r}, {job.settings['base']['task']!r})",
                      seed)
    return record


# --- preparing: the model, the reviews, the settings -----------------------------------------------


def _check_count(value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a whole number of at least 1, got {value!r}")


def _prepare(model: Any, task: Any, output: str | Path | None, *, limit: int | None, sanity_texts: int, seed: int,
             steps: int, replacement: str, draws: int, chunk_size: int, name: str | None) -> _Job:
    """Check every setting, load the task and the model, and work out each stage's settings (keyword-only)."""
    from labkit.paths import data_dir

    for value, what in ((sanity_texts, "sanity_texts"), (steps, "steps"), (draws, "draws"),
                        (chunk_size, "chunk_size"), (1 if limit is None else limit, "limit")):
        _check_count(value, what)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be a whole number, got {seed!r}")
    task = _task(task)
    tokenizer, classifier, name = _classifier(model, name)
    test = task.dataset["test"]
    label_names = list(test.features[task.label_column].names)
    if classifier.config.num_labels != len(label_names):
        raise ConfigError(f"the model has {classifier.config.num_labels} classes but task {task.name!r} has "
                          f"{len(label_names)} ({label_names}): explain a classifier trained on this task")
    count = len(test) if limit is None else min(limit, len(test))
    majority = int(np.bincount(task.dataset["train"][task.label_column], minlength=len(label_names)).argmax())
    options = {"gradient_x_input": {}, "occlusion": {"replacement": replacement},
               "integrated_gradients": {"steps": steps, "quadrature": "gausslegendre", "baseline_token": "[PAD]",
                                        "internal_batch_size": 50}}
    options = {method: {"max_length": task.max_length, **options[method]} for method in METHODS}
    sample = sorted(np.random.default_rng(seed).choice(count, min(sanity_texts, count), replace=False).tolist())
    folder = Path(output) if output is not None else data_dir() / "results" / f"explain-{task.name}" / name
    job = _Job(name, tokenizer, classifier, list(test[task.text_column][:count]),
               np.asarray(test[task.label_column][:count]), label_names, majority, task.max_length, options,
               draws, seed, sample, chunk_size, folder)
    base = {"model": name, "model_sha256": _weights_sha256(classifier), "task": task.name, "examples": count,
            "max_length": task.max_length}
    attributions = {**base, "methods": options, "attention_rows": list(ATTENTION_ROWS)}
    job.settings = {"base": base, "attributions": attributions, "agreement": attributions,
                    "word_importance": attributions,
                    "faithfulness": {**attributions, "draws": draws, "seed": seed, "confidence": 0.95},
                    "sanity": {**base, "examples": job.sanity_examples, "methods": options, "seed": seed}}
    return job


def _task(task: Any) -> Any:
    """A ``labkit.selection.Task`` from a shipped task's name (or the ``Task`` itself)."""
    from labkit.selection import Task, builtin_task

    if isinstance(task, Task):
        return task
    if not isinstance(task, str):
        raise ConfigError(f"task must be a shipped task's name (sentiment, topic, reuters) or a Task, got {task!r}")
    try:
        return builtin_task(task)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _classifier(model: Any, name: str | None) -> tuple[Any, Any, str]:
    """``(tokenizer, model, name)``: a registered classifier loaded with eager attention, or a checked pair."""
    import torch

    if isinstance(model, str):
        _check_has_classification_head(model)
        from labkit.models import load

        tokenizer, classifier = load(model, task="sequence-classification", attn_implementation="eager")
        return tokenizer, classifier, name or model
    if not isinstance(model, (tuple, list)) or len(model) != 2 or not isinstance(model[1], torch.nn.Module):
        raise ConfigError("model must be a registered classifier's name (e.g. 'tiny-bert-sentiment') or a "
                          f"(tokenizer, model) pair, got {type(model).__name__}")
    tokenizer, classifier = model
    if not type(classifier).__name__.endswith("ForSequenceClassification"):
        raise ConfigError(f"the model is a {type(classifier).__name__}, not a sequence classifier: load it with "
                          "task='sequence-classification'")
    if getattr(classifier.config, "_attn_implementation", None) != "eager":
        raise ConfigError("the attention rows need attention weights: load the model with "
                          "attn_implementation='eager'")
    return tokenizer, classifier, name or type(classifier).__name__


def _check_has_classification_head(name: str) -> None:
    """Refuse a registered model whose checkpoint has no trained classification head (it would be random)."""
    from labkit.models import REGISTRY, resolve

    entry = REGISTRY.get(name)
    if entry is not None and "sequence-classification" not in entry.tasks:
        raise ConfigError(f"{name!r} is not a sequence classifier (it supports {', '.join(entry.tasks)})")
    folder = Path(resolve(name))
    if not folder.is_dir() or (folder / "adapter_config.json").is_file():
        return  # a Hub id (checked by transformers) or a LoRA adapter, which carries its head
    architectures = json.loads((folder / "config.json").read_text()).get("architectures") or []
    if not any(architecture.endswith("ForSequenceClassification") for architecture in architectures):
        raise ConfigError(f"{name!r} has no trained classification head (its checkpoint is "
                          f"{', '.join(architectures) or 'of no stated architecture'}): its explanations would "
                          "explain a random head. Explain a fine-tuned classifier such as 'tiny-bert-sentiment'")


def _weights_sha256(model: Any) -> str:
    """A hash of every parameter and buffer of the model: a re-trained model is a different model."""
    import torch

    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _settings_sha256(settings: dict[str, Any]) -> str:
    """A stage's settings as one hash (the record describes them once, in full, at its top)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _description(job: _Job) -> dict[str, Any]:
    """The record's description of the job: model, task, methods and their options, reviews."""
    ig = job.options["integrated_gradients"]
    return {"model": job.name, "model_sha256": job.settings["base"]["model_sha256"],
            "task": job.settings["base"]["task"], "examples": len(job.texts), "label_names": job.label_names,
            "max_length": job.max_length, "explanations": list(EXPLANATIONS), "methods": job.options,
            "integrated_gradients_baseline": f"[CLS] + {ig['baseline_token']}... + [SEP] (attention mask kept)",
            "occlusion_replacement": job.options["occlusion"]["replacement"],
            "attention_rows": {"attention_last_cls": "the last layer's [CLS] row, averaged over heads",
                               "rollout_cls": "attention rollout's [CLS] row (Abnar & Zuidema, 2020)"},
            "faithfulness": {"draws": job.draws, "seed": job.seed, "confidence": 0.95,
                             "deletion": "token ids removed"},
            "sanity_examples": job.sanity_examples, "seed": job.seed}


def _accuracy(job: _Job) -> dict[str, Any]:
    """Test accuracy (bootstrap interval) beside the training set's majority class, on the reviews explained."""
    from labkit.evaluation import bootstrap_ci

    path = job.output / "examples.parquet"
    if not path.is_file():
        return {}
    examples = pd.read_parquet(path, columns=["label", "prediction"])
    interval = bootstrap_ci("accuracy", examples["label"].to_numpy(), examples["prediction"].to_numpy(), seed=job.seed)
    return {"test_accuracy": float((examples["label"] == examples["prediction"]).mean()),
            "test_accuracy_low": interval.low, "test_accuracy_high": interval.high,
            "majority_class": job.label_names[job.majority_class],
            "majority_class_rate": float((examples["label"] == job.majority_class).mean())}


def _write(frame: pd.DataFrame, path: Path) -> None:
    """A table as compressed Parquet or as CSV (6 significant digits), by the file's suffix, atomically."""
    write_atomically(path, lambda temporary: frame.to_parquet(temporary, **PARQUET) if path.suffix == ".parquet"
                     else frame.to_csv(temporary, index=False, float_format="%.6g"))


# --- stage 1: attributions, in chunks ------------------------------------------------------------


def _attributions_stage(job: _Job) -> None:
    """Every review explained by every method, ``chunk_size`` reviews at a time (chunks kept in ``.partial/``)."""
    from tqdm.auto import tqdm

    partial = job.output / ".partial"
    settings = {"settings_sha256": _settings_sha256({**job.settings["attributions"], "chunk_size": job.chunk_size})}
    marker = partial / "settings.json"
    if partial.is_dir() and (not marker.is_file() or json.loads(marker.read_text()) != settings):
        job.log("attributions: the saved chunks were made with other settings; starting again")
        shutil.rmtree(partial)
    if not marker.is_file():
        write_json_atomically(marker, settings)
    starts = range(0, len(job.texts), job.chunk_size)
    examples, attributions = [], []
    bar = tqdm(total=len(job.texts), desc=f"explaining {job.name}", disable=not job.progress, leave=False)
    for number, start in enumerate(starts, start=1):
        indices = list(range(start, min(start + job.chunk_size, len(job.texts))))
        example_file, attribution_file = partial / f"examples-{number:04d}.parquet", \
            partial / f"attributions-{number:04d}.parquet"
        if example_file.is_file() and attribution_file.is_file():
            job.log(f"attributions: chunk {number}/{len(starts)} reused from .partial/")
            bar.update(len(indices))
        else:
            chunk_examples, chunk_attributions = _explain_chunk(job, indices, bar)
            _write(chunk_attributions, attribution_file)
            _write(chunk_examples, example_file)  # written last: its presence marks the chunk done
        examples.append(pd.read_parquet(example_file))
        attributions.append(pd.read_parquet(attribution_file))
    bar.close()
    _write(pd.concat(attributions, ignore_index=True), job.output / "attributions.parquet")
    _write(pd.concat(examples, ignore_index=True), job.output / "examples.parquet")
    shutil.rmtree(partial)


def _explain_chunk(job: _Job, indices: Sequence[int], bar: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Explain the reviews ``indices``: ``(examples rows, attributions rows)``."""
    from labkit.interpret.attribution import attribute

    rows = _attention_rows(job, [job.texts[i] for i in indices])
    examples, tables = [], []
    for index, (tokens, attention_rows) in zip(indices, rows, strict=True):
        by_method: dict[str, TokenAttribution] = {}
        for method in METHODS:  # every method explains the class the first one found predicted
            target = by_method["gradient_x_input"].target if by_method else None
            by_method[method] = attribute(job.model, job.tokenizer, job.texts[index], method, target,
                                          **job.options[method])
            if by_method[method].tokens != tokens:
                raise ValueError(f"review {index}: {method} saw other tokens than the attention rows")
        first, ig = by_method["gradient_x_input"], by_method["integrated_gradients"].details
        examples.append({"example": index, "label": int(job.labels[index]), "prediction": first.predicted,
                         "target": first.target,
                         **{f"probability_{name}": float(p) for name, p in zip(job.label_names, first.probabilities,
                                                                                strict=True)},
                         "n_tokens": len(tokens), "ig_f_input": ig["f_input"], "ig_f_baseline": ig["f_baseline"],
                         "ig_gap": ig["completeness_gap"]})
        tables.append(pd.DataFrame({
            "example": np.full(len(tokens), index, dtype=np.int32), "position": np.arange(len(tokens), dtype=np.int16),
            "token": tokens, "input_id": np.asarray(first.input_ids, dtype=np.int32),
            **{method: by_method[method].scores.astype(np.float32) for method in METHODS},
            **{row: values.astype(np.float32) for row, values in attention_rows.items()}}))
        bar.update(1)
    return pd.DataFrame(examples), pd.concat(tables, ignore_index=True)


def _attention_rows(job: _Job, texts: list[str], batch: int = 32) -> list[tuple[list[str], dict[str, np.ndarray]]]:
    """For each text: its tokens and ``{"attention_last_cls": (seq,), "rollout_cls": (seq,)}``."""
    from labkit.interpret.attention import attention_weights_many, cls_attention, cls_rollout

    rows = []
    for start in range(0, len(texts), batch):
        for tokens, attentions in attention_weights_many(job.model, job.tokenizer, texts[start:start + batch],
                                                         max_length=job.max_length):
            one = attentions.unsqueeze(1)  # (layers, 1, heads, seq, seq)
            rows.append((tokens, {"attention_last_cls": cls_attention(one)[0].numpy(),
                                  "rollout_cls": cls_rollout(one)[0].numpy()}))
    return rows


# --- the stages that read the attributions back -----------------------------------------------


def saved_attributions(output: str | Path, explanation: str) -> list[TokenAttribution]:
    """One ``TokenAttribution`` per review from a job's folder, for one of :data:`EXPLANATIONS`.

    The scores are the saved float32 values; ``target`` and ``probabilities`` come from
    ``examples.parquet``. What :mod:`labkit.interpret.faithfulness`, ``agreement`` and
    ``global_importance`` take, without recomputing anything.
    """
    output = Path(output)
    if explanation not in EXPLANATIONS:
        raise ConfigError(f"unknown explanation {explanation!r}: choose one of {list(EXPLANATIONS)}")
    for file in STAGES["attributions"]:
        if not (output / file).is_file():
            raise MissingFileError(f"{output / file} is missing: run `labkit explain` for this model first")
    examples = pd.read_parquet(output / "examples.parquet")
    table = pd.read_parquet(output / "attributions.parquet", columns=["example", "token", "input_id", explanation])
    probabilities = examples[[column for column in examples if column.startswith("probability_")]].to_numpy(float)
    result = []
    for (_, rows), target, p in zip(table.groupby("example", sort=True), examples["target"], probabilities,
                                    strict=True):
        result.append(TokenAttribution(tokens=rows["token"].tolist(), scores=rows[explanation].to_numpy(np.float64),
                                       target=int(target), probabilities=p, method=explanation,
                                       input_ids=rows["input_id"].tolist()))
    return result


def _faithfulness_stage(job: _Job) -> None:
    from labkit.interpret.faithfulness import faithfulness_per_text, model_probabilities, summarise_faithfulness

    explanations = {name: saved_attributions(job.output, name) for name in EXPLANATIONS}
    per_text = faithfulness_per_text(explanations, model_probabilities(job.model), draws=job.draws, seed=job.seed)
    per_text.insert(0, "example", per_text["text"])  # the reviews are the test split's first ones, in order
    table = summarise_faithfulness(per_text, seed=job.seed)
    _write(per_text, job.output / "faithfulness_per_text.parquet")
    _write(table, job.output / "faithfulness.csv")


def _agreement_stage(job: _Job) -> None:
    from labkit.interpret.agreement import agreement_over_texts

    table = pd.read_parquet(job.output / "attributions.parquet")
    groups = [rows for _, rows in table.groupby("example", sort=True)]
    scores = {name: [rows[name].to_numpy(np.float64) for rows in groups] for name in EXPLANATIONS}
    frame = agreement_over_texts(scores, [rows["token"].tolist() for rows in groups])
    frame.insert(0, "example", frame["text"])
    _write(frame, job.output / "agreement.parquet")


def _sanity_stage(job: _Job) -> None:
    from tqdm.auto import tqdm

    from labkit.interpret.attribution import attribute
    from labkit.interpret.sanity import cascading_randomisation, randomisation_order

    texts = [job.texts[index] for index in job.sanity_examples]
    calls = len(METHODS) * len(texts) * (2 + len(randomisation_order(job.model)))
    bar = tqdm(total=calls, desc="sanity check", disable=not job.progress, leave=False)

    def explainer(method: str) -> Callable[..., TokenAttribution]:
        def explain(model: Any, text: str, target: int | None = None) -> TokenAttribution:
            bar.update(1)
            return attribute(model, job.tokenizer, text, method, target, **job.options[method])
        return explain

    frames = [cascading_randomisation(job.model, explainer(method), texts, seed=job.seed) for method in METHODS]
    bar.close()
    frame = pd.concat(frames, ignore_index=True)
    frame["example"] = np.asarray(job.sanity_examples)[frame["text"].to_numpy()]
    _write(frame[["step", "block", "example", "method", "target", "spearman", "spearman_abs"]],
               job.output / "sanity.csv")


def _word_importance_stage(job: _Job) -> None:
    from labkit.interpret.global_importance import word_importance

    frames = []
    for method in METHODS:
        attributions = saved_attributions(job.output, method)
        for target in sorted({attribution.target for attribution in attributions}):
            table = word_importance([a for a in attributions if a.target == target])
            table.insert(0, "class", job.label_names[target])
            table.insert(0, "target", target)
            table.insert(0, "method", method)
            frames.append(table)
    _write(pd.concat(frames, ignore_index=True), job.output / "word_importance.csv")


def read_test_set(output: str | Path) -> dict[str, Any]:
    """A finished job's folder as ``{"record": dict, "examples": DataFrame, ..., "word_importance": DataFrame}``.

    One key per file (without its extension); raises ``MissingFileError`` naming what is missing.
    """
    output = Path(output)
    files = ["record.json", *(file for files in STAGES.values() for file in files)]
    missing = [file for file in files if not (output / file).is_file()]
    if missing:
        raise MissingFileError(f"{output} lacks {', '.join(missing)}: run `labkit explain` (it resumes) first")
    readers = {".json": lambda path: json.loads(path.read_text()), ".parquet": pd.read_parquet, ".csv": pd.read_csv}
    return {Path(file).stem: readers[Path(file).suffix](output / file) for file in files}


def summarise_test_set(output: str | Path) -> str:
    """A finished job in a few lines: accuracy beside the majority-class rate, faithfulness, agreement, sanity, time."""
    from labkit.interpret.agreement import summarise_agreement
    from labkit.interpret.sanity import summarise_sanity

    results = read_test_set(output)
    record = results["record"]
    faithfulness = results["faithfulness"][["method", "comprehensiveness", "random_comprehensiveness",
                                            "comprehensiveness_verdict", "sufficiency", "random_sufficiency",
                                            "sufficiency_verdict"]]
    agreement = summarise_agreement(results["agreement"])[["pair", "texts", "median", "q25", "q75"]]
    sanity = summarise_sanity(results["sanity"])
    last = sanity[sanity["step"] == sanity["step"].max()][["method", "block", "spearman_mean", "spearman_abs_mean"]]
    float_format = "{:.3f}".format
    return "\n".join([
        f"{record['model']} on {record['examples']} {record['task']} test reviews: accuracy "
        f"{record['test_accuracy']:.3f} (95% CI {record['test_accuracy_low']:.3f} to "
        f"{record['test_accuracy_high']:.3f}), majority-class rate {record['majority_class_rate']:.3f}",
        "faithfulness (ERASER, by deleting tokens; random: mean of the draws):",
        faithfulness.to_string(index=False, float_format=float_format),
        "Kendall's tau between explanations, per review (special tokens excluded):",
        agreement.to_string(index=False, float_format=float_format),
        "sanity check, rank correlation with the trained model's map once every block is re-initialised:",
        last.to_string(index=False, float_format=float_format),
        "seconds per stage: " + ", ".join(f"{stage} {seconds:.0f}" for stage, seconds in record["seconds"].items()),
    ])
