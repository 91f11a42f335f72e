"""The shipped bias audit: the measurements too long for a notebook, run once as a job, with provenance.

``labkit bias-audit --output data/results/bias-sentiment`` runs four parts, each written atomically
to its own files and skipped on a rerun once done (so an interrupted job resumes part by part):

* ``classifiers``: every shipped sentiment classifier (TF-IDF + LR, tiny-bert, MiniLM fine-tuned in
  full and with LoRA) on the gender-swapped test set and on the EEC-style template pairs; the flip
  rates are also written into the classifiers' records in ``finetune-sentiment`` (the fairness column
  of the selection table);
* ``bbq``: MiniLM's multiple-choice answers to all 5,672 BBQ gender items by both answerer methods,
  the method chosen on the validation items, and the bias scores on the rest;
* ``mitigation``: MiniLM sentence embeddings of the sentiment splits (shipped in float16, so the
  notebook can refit), logistic regression before and after hard debiasing and INLP, its accuracy cost
  and flip rates, and Gonen & Goldberg's recoverability check;
* ``cda``: tiny-bert fine-tuned again with the same recipe and seed on counterfactually augmented
  training data, measured on the same test set as the shipped tiny-bert.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ConfigError
from labkit.files import write_folder_atomically, write_json_atomically

PARTS = ("classifiers", "bbq", "mitigation", "cda")
"""The audit's parts, in the order they run."""

SENTIMENT_CLASSIFIERS: dict[str, str | None] = {
    "tfidf-lr": None, "tiny-bert": "tiny-bert-sentiment", "minilm-l6": "minilm-l6-sentiment",
    "minilm-l6-lora": "minilm-l6-sentiment-lora",
}
"""Shipped ``finetune-sentiment`` run -> the registry classifier that is its model (None: refitted, as the
TF-IDF baseline is deterministic)."""

EMBEDDING_DTYPE = np.float16
"""How the MiniLM embeddings are shipped; every number of the mitigation part is computed from the
embeddings *after* this rounding, so the notebook reproduces them exactly."""


def sentiment_predictor(run: str, dataset: Any = None, *, seed: int = 0) -> Callable[[list[str]], np.ndarray]:
    """texts -> ``(n, 2)`` probabilities of the classifier behind the shipped sentiment run ``run``.

    ``run``: a key of :data:`SENTIMENT_CLASSIFIERS`. TF-IDF + LR is refitted on ``dataset`` (default: the
    shipped movie snippets) with ``seed``; a transformer is loaded from the registry and reads texts at
    the ``max_length`` it was trained with.
    """
    from labkit import finetune, models

    if run not in SENTIMENT_CLASSIFIERS:
        raise ConfigError(f"unknown sentiment run {run!r}; choose one of {', '.join(SENTIMENT_CLASSIFIERS)}")
    name = SENTIMENT_CLASSIFIERS[run]
    if name is None:
        if dataset is None:
            from labkit.data import load_sentiment

            dataset = load_sentiment()
        return finetune.tfidf_logistic_regression(dataset, seed=seed).model.predict_proba
    tokenizer, model = models.load(name, task="sequence-classification")
    training = json.loads((models.REGISTRY[name].path() / "training.json").read_text())
    max_length = int(training["settings"]["max_length"])
    return lambda texts: finetune.predict_proba(model, tokenizer, list(texts), max_length=max_length)


def _timed(function: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    return function(), time.perf_counter() - start


def _write(output: Path, part: str, files: dict[str, Callable[[Path], None]], summary: dict[str, Any]) -> None:
    """``<output>/<part>/`` with ``summary.json`` and the given files, written atomically as one folder."""

    def write(staging: Path) -> None:
        for name, writer in files.items():
            writer(staging / name)
        (staging / "summary.json").write_text(json.dumps(summary, indent=1, default=_plain) + "\n")

    write_folder_atomically(output / part, write)


def _plain(value: Any) -> Any:
    """JSON for numpy scalars and arrays."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _flip_measures(test_predict: Callable[[list[str]], Any], template_predict: Callable[[list[str]], Any],
                   pairs: Sequence[Any], templates: pd.DataFrame, seed: int) -> tuple[dict[str, float], Any, Any]:
    """Flip rates on the swapped test ``pairs`` and on the ``templates`` (male -> female), as columns.

    Returns ``(columns prefixed test_ / templates_, test FlipRates, template FlipRates)``. The two predictors
    are the same classifier, given separately for one whose inputs are looked up rather than read.
    """
    from labkit.bias.counterfactual import paired_flip_rates

    test = paired_flip_rates(test_predict, [p.original for p in pairs], [p.counterfactual for p in pairs], seed=seed)
    template = paired_flip_rates(template_predict, templates["male"].tolist(), templates["female"].tolist(), seed=seed)
    columns = {**{f"test_{k}": v for k, v in test.summary(decimals=4).items()},
               **{f"templates_{k}": v for k, v in template.summary(decimals=4).items()}}
    return columns, test, template


# Part 1: the shipped classifiers


def audit_classifiers(output: Path, *, results: Path | None, seed: int = 0,
                      log: Callable[[str], None] = print) -> dict[str, Any]:
    """Flip rates of every shipped sentiment classifier on the swapped test set and the template pairs."""
    from labkit.bias.counterfactual import counterfactual_pairs, eec_pairs, flip_rates_by
    from labkit.data import load_sentiment
    from labkit.selection.fairness import add_fairness

    dataset = load_sentiment()
    test_texts, validation_texts = list(dataset["test"]["text"]), list(dataset["validation"]["text"])
    pairs = counterfactual_pairs(test_texts)
    templates = eec_pairs()
    rows, pair_rows, template_rows, spread = [], [], [], []
    for run in SENTIMENT_CLASSIFIERS:
        predict = sentiment_predictor(run, dataset, seed=seed)
        start = time.perf_counter()
        columns, test, template = _flip_measures(predict, predict, pairs, templates, seed)
        seconds = time.perf_counter() - start
        rows.append({"classifier": run, "registry_name": SENTIMENT_CLASSIFIERS[run] or "(refitted)", **columns,
                     "seconds": round(seconds, 1)})
        pair_rows.append(pd.DataFrame({"classifier": run, "index": [p.index for p in pairs],
                                       "p_original": test.p_original, "p_counterfactual": test.p_counterfactual}))
        template_rows.append(pd.DataFrame({"classifier": run, "p_male": template.p_original,
                                           "p_female": template.p_counterfactual}))
        by_template = flip_rates_by(template, templates["template"]).reset_index()
        spread.append(by_template.assign(classifier=run))
        if results is not None and (results / run / "record.json").is_file():
            add_fairness(results / run / "record.json", predict, validation_texts, test_texts, seed=seed,
                         how=f"by labkit bias-audit with {SENTIMENT_CLASSIFIERS[run] or 'the refitted baseline'}")
        log(f"{run}: test flip rate {test.flip_rate.estimate:.3f} over {test.n_pairs} pairs; "
            f"templates {template.flip_rate.estimate:.3f} over {template.n_pairs}")
    summary = {"test_pairs": len(pairs), "template_pairs": len(templates), "classifiers": rows,
               "by_template": pd.concat(spread).round(4).to_dict(orient="records")}
    _write(output, "classifiers", {
        "test_pairs.parquet": lambda path: pd.concat(pair_rows).to_parquet(path, index=False),
        "template_pairs.parquet": lambda path: pd.concat(template_rows).astype(
            {"p_male": "float32", "p_female": "float32"}).to_parquet(path, index=False),
    }, summary)
    return summary


# Part 2: BBQ


def audit_bbq(output: Path, *, seed: int = 0, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Both MiniLM answerers on every BBQ gender item; the method chosen on validation; bias scores."""
    from labkit.bias.bbq import ANSWERER_METHODS, bias_scores, choose_method, minilm_answer_scores, validation_mask
    from labkit.data import load_bbq_gender
    from labkit.models import load

    items = load_bbq_gender()["test"].to_pandas()
    loaded = load("minilm-l6")
    scores, seconds = {}, {}
    for method in ANSWERER_METHODS:
        start = time.perf_counter()
        scores[method] = minilm_answer_scores(items, method, loaded=loaded)
        seconds[method] = time.perf_counter() - start
        log(f"BBQ {method}: {seconds[method]:.0f} s")
    validation = validation_mask(items)
    chosen, validation_accuracy = choose_method(items, scores, validation)
    tables = {}
    for method, method_scores in scores.items():
        for part, mask in (("validation", validation), ("test", ~validation)):
            tables[f"{method}/{part}"] = bias_scores(items[mask], method_scores[mask].argmax(axis=1),
                                                     seed=seed).reset_index().to_dict(orient="records")
    summary = {"items": len(items), "validation_items": int(validation.sum()), "chosen_method": chosen,
               "validation_accuracy": validation_accuracy, "seconds": seconds, "scores": tables}
    frame = pd.DataFrame({"example_id": items["example_id"], "validation": validation})
    for method, method_scores in scores.items():
        for answer in range(3):
            frame[f"{method}_{answer}"] = method_scores[:, answer].astype(np.float32)
    _write(output, "bbq", {"answer_scores.parquet": lambda path: frame.to_parquet(path, index=False)}, summary)
    return summary


# Part 3: projecting gender out of MiniLM embeddings


def load_sentiment_embeddings(folder: str | Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The shipped MiniLM embeddings of the sentiment splits and their labels: ``(features, labels)``.

    ``features[split]``: ``(n, 384)`` float32 (shipped as float16); ``labels[split]``: ``(n,)``.
    """
    with np.load(Path(folder) / "embeddings.npz") as saved:
        features = {split: saved[split].astype(np.float32) for split in ("train", "validation", "test")}
        labels = {split: saved[f"{split}_labels"] for split in ("train", "validation", "test")}
    return features, labels


def held_out_persons(sentences: pd.DataFrame, *, held_out: int = 22, seed: int = 0) -> np.ndarray:
    """``(n,)`` bool: the sentences of ``held_out`` person pairs kept out of INLP, to test it on.

    Pairs whose person is itself a definitional word (e.g. "the woman") are never held out, so the held-out
    sentences share no word with the ones that defined the gender direction.
    """
    from labkit.bias.mitigation import DEFINITIONAL_PAIRS

    definitional = {word.lower() for pair in DEFINITIONAL_PAIRS for word in pair}
    overlapping = {pair for pair, person in zip(sentences["pair"], sentences["person"], strict=True)
                   if person.split()[-1].lower() in definitional}
    choices = np.random.default_rng(seed).permutation(sorted(set(sentences["pair"]) - overlapping))
    return sentences["pair"].isin(choices[:held_out].tolist()).to_numpy()


def audit_mitigation(output: Path, *, seed: int = 0, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Hard debiasing and INLP on frozen MiniLM embeddings: accuracy cost, flip rates, recoverability.

    It is long because it is one experiment told in order (embed, find the direction, fit INLP, train
    the three classifiers, measure each), as notebook 08 retells it.
    """
    from labkit.bias import mitigation
    from labkit.bias.counterfactual import counterfactual_pairs, eec_pairs
    from labkit.bias.weat import sentence_embeddings
    from labkit.data import load_sentiment
    from labkit.evaluation import paired_bootstrap
    from labkit.models import load

    tokenizer, model = load("minilm-l6")

    def embed(texts: Sequence[str]) -> np.ndarray:
        rounded = sentence_embeddings(tokenizer, model, list(texts)).astype(EMBEDDING_DTYPE)
        return rounded.astype(np.float32)

    dataset = load_sentiment()
    splits = ("train", "validation", "test")
    (features, embed_seconds) = _timed(lambda: {split: embed(dataset[split]["text"]) for split in splits})
    labels = {split: np.asarray(dataset[split]["label"]) for split in splits}
    log(f"embedded the sentiment splits in {embed_seconds:.0f} s")
    definitional = mitigation.definitional_sentences()
    direction = mitigation.gender_direction(embed(definitional["female"]), embed(definitional["male"]))
    sentences = mitigation.gendered_sentences()
    person_embeddings = embed(sentences["sentence"])
    gender = sentences["female"].to_numpy()
    held = held_out_persons(sentences, seed=seed)
    inlp = mitigation.inlp(person_embeddings[~held], gender[~held], iterations=10,
                           dev=(person_embeddings[held], gender[held]), seed=seed)
    projections = {"none": None, "hard": mitigation.nullspace_projection(direction.direction),
                   "inlp": inlp.projection}
    classifiers = {name: mitigation.debiased_sentiment_classifier(features, labels, projection, seed=seed)
                   for name, projection in projections.items()}
    pairs = counterfactual_pairs(dataset["test"]["text"])
    templates = eec_pairs()
    pair_features = embed([p.counterfactual for p in pairs])
    male, female = embed(templates["male"]), embed(templates["female"])
    rows = []
    for name, classifier in classifiers.items():
        def test_pair_proba(_texts: list[str], classifier: Any = classifier) -> np.ndarray:
            originals = features["test"][[p.index for p in pairs]]
            return classifier.predict_proba(np.vstack([originals, pair_features]))

        def template_proba(_texts: list[str], classifier: Any = classifier) -> np.ndarray:
            return classifier.predict_proba(np.vstack([male, female]))

        columns, test_flips, _ = _flip_measures(test_pair_proba, template_proba, pairs, templates, seed)
        row = {"projection": name, "C": classifier.C, "validation_accuracy": classifier.accuracy["validation"],
               "test_accuracy": classifier.accuracy["test"],
               "majority_class_rate": classifier.majority_accuracy["test"], **columns}
        if name != "none":
            difference = paired_bootstrap("accuracy", labels["test"], classifiers["none"].test_predictions,
                                          classifier.test_predictions, name_a="none", name_b=name, seed=seed)
            row.update(test_accuracy_change=difference.difference, test_accuracy_change_low=difference.low,
                       test_accuracy_change_high=difference.high)
        for recovery in mitigation.RECOVERY_CLASSIFIERS:
            projected = person_embeddings[held] if projections[name] is None else \
                person_embeddings[held] @ projections[name]
            result = mitigation.recoverability(projected, gender[held], groups=sentences["pair"].to_numpy()[held],
                                               classifier=recovery, seed=seed)
            row[f"gender_recovered_{recovery}"] = result.accuracy
            row[f"gender_recovered_{recovery}_spread"] = result.spread
            row["gender_chance"] = result.chance
        rows.append(row)
        log(f"{name}: test accuracy {classifier.accuracy['test']:.3f}, flip rate {test_flips.flip_rate.estimate:.3f}")
    summary = {"embedding_seconds": embed_seconds, "explained_variance_ratio": direction.explained_variance_ratio[:5],
               "inlp_train_accuracy": inlp.train_accuracy, "inlp_dev_accuracy": inlp.dev_accuracy,
               "held_out_sentences": int(held.sum()), "inlp_sentences": int((~held).sum()),
               "validation_by_C": {name: {str(c): a for c, a in clf.validation_by_C.items()}
                                   for name, clf in classifiers.items()},
               "test_pairs": len(pairs), "template_pairs": len(templates), "results": rows}

    def save_embeddings(path: Path) -> None:
        np.savez_compressed(path, **{split: features[split].astype(EMBEDDING_DTYPE) for split in splits},
                            **{f"{split}_labels": labels[split].astype(np.int8) for split in splits},
                            test_counterfactuals=pair_features.astype(EMBEDDING_DTYPE),
                            test_counterfactual_index=np.array([p.index for p in pairs]))

    _write(output, "mitigation", {"embeddings.npz": save_embeddings}, summary)
    return summary


# Part 4: counterfactual data augmentation


CDA_SEEDS = (0, 1, 2)
"""Seeds of the CDA comparison: one training run says little, since the seed alone moves flip rates."""


def _measured(name: str, seed: int, predict: Callable[[list[str]], np.ndarray], dataset: Any, pairs: Sequence[Any],
              templates: pd.DataFrame) -> tuple[dict[str, Any], np.ndarray]:
    """Test accuracy (with its CI) and both flip rates of one trained classifier; its test predictions."""
    from labkit import evaluation

    labels = np.asarray(dataset["test"]["label"])
    predictions = predict(list(dataset["test"]["text"])).argmax(axis=1)
    accuracy = evaluation.bootstrap_ci("accuracy", labels, predictions, seed=seed)
    row = {"model": name, "seed": seed, "test_accuracy": accuracy.estimate, "test_accuracy_low": accuracy.low,
           "test_accuracy_high": accuracy.high, **_flip_measures(predict, predict, pairs, templates, seed)[0]}
    return row, predictions


def audit_cda(output: Path, *, results: Path | None, seed: int = 0, seeds: Sequence[int] = CDA_SEEDS,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """tiny-bert with and without CDA, the shipped run's recipe, over ``seeds``; measured on the same tests.

    Seed ``seed`` without CDA is the shipped ``tiny-bert-sentiment``; the other seeds are trained here. Each
    seed gives a paired test-accuracy difference (CDA minus plain); the flip rates are compared across seeds.
    """
    from labkit import evaluation, finetune
    from labkit.bias.counterfactual import counterfactual_pairs, eec_pairs
    from labkit.bias.mitigation import cda_fine_tune
    from labkit.data import load_sentiment
    from labkit.finetune.recipe import RECIPES
    from labkit.selection.running import _predictor

    dataset = load_sentiment()
    shipped = json.loads((results / "tiny-bert" / "record.json").read_text()) if results else None
    max_length = int(shipped["settings"]["max_length"]) if shipped else 64
    pairs, templates = counterfactual_pairs(dataset["test"]["text"]), eec_pairs()
    labels = np.asarray(dataset["test"]["label"])
    rows, differences, frames, counts, seconds = [], [], [], None, {}
    for run_seed in seeds:
        if run_seed == seed:
            plain = sentiment_predictor("tiny-bert")
        else:
            trained = finetune.fine_tune("tiny-bert", dataset, recipe=RECIPES["tiny-bert"], max_length=max_length,
                                         seed=run_seed, progress=False)
            seconds[f"tiny-bert seed {run_seed}"] = trained.train_seconds
            plain = _predictor(trained, max_length)
        result, counts = cda_fine_tune("tiny-bert", dataset, recipe=RECIPES["tiny-bert"], max_length=max_length,
                                       seed=run_seed, progress=False)
        seconds[f"tiny-bert-cda seed {run_seed}"] = result.train_seconds
        plain_row, plain_predictions = _measured("tiny-bert", run_seed, plain, dataset, pairs, templates)
        cda_row, cda_predictions = _measured("tiny-bert-cda", run_seed, _predictor(result, max_length),
                                             dataset, pairs, templates)
        rows += [plain_row, cda_row]
        difference = evaluation.paired_bootstrap("accuracy", labels, plain_predictions, cda_predictions,
                                                 name_a="tiny-bert", name_b="tiny-bert-cda", seed=run_seed)
        differences.append({"seed": run_seed, "test_accuracy_change": difference.difference,
                            "test_accuracy_change_low": difference.low, "test_accuracy_change_high": difference.high})
        frames.append(result.predictions.drop(columns="text").assign(seed=run_seed))
        log(f"seed {run_seed}: accuracy {plain_row['test_accuracy']:.3f} -> {cda_row['test_accuracy']:.3f}; "
            f"template flip rate {plain_row['templates_flip_rate']:.3f} -> {cda_row['templates_flip_rate']:.3f}")
    summary = {"augmentation": {"original": counts.original, "added": counts.changed}, "seeds": list(seeds),
               "recipe": RECIPES["tiny-bert"].as_dict(), "max_length": max_length, "train_seconds": seconds,
               "majority_class_rate": float(np.mean(labels == np.bincount(dataset["train"]["label"]).argmax())),
               "results": rows, "paired_accuracy_change": differences}
    _write(output, "cda", {"predictions.parquet": lambda path: pd.concat(frames).to_parquet(path, index=False)},
           summary)
    return summary


def run_audit(output: str | Path, *, parts: Sequence[str] = PARTS, results: str | Path | None = None,
              seed: int = 0, command: str = "", force: bool = False,
              log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """Run the audit's ``parts`` into ``output`` (each skipped if its folder exists, unless ``force``).

    ``results``: the shipped ``finetune-sentiment`` folder, whose classifiers' records gain the fairness
    columns (part ``classifiers``) and whose tiny-bert recipe CDA repeats (part ``cda``). Each part's
    ``summary.json`` records the ``command``, seed and versions.
    """
    from labkit import seed_everything
    from labkit.selection.provenance import provenance

    unknown = [part for part in parts if part not in PARTS]
    if unknown or not parts:
        raise ConfigError(f"unknown audit part(s) {unknown}; choose from {', '.join(PARTS)}")
    output = Path(output)
    results = None if results is None else Path(results)
    runners = {"classifiers": lambda: audit_classifiers(output, results=results, seed=seed, log=log),
               "bbq": lambda: audit_bbq(output, seed=seed, log=log),
               "mitigation": lambda: audit_mitigation(output, seed=seed, log=log),
               "cda": lambda: audit_cda(output, results=results, seed=seed, log=log)}
    summaries = {}
    for part in PARTS:
        if part not in parts:
            continue
        if (output / part / "summary.json").is_file() and not force:
            log(f"{part}: already done, skipped")
            summaries[part] = json.loads((output / part / "summary.json").read_text())
            continue
        seed_everything(seed)
        start = time.perf_counter()
        summary = runners[part]()
        summary_path = output / part / "summary.json"
        summary = {**json.loads(summary_path.read_text()), "wall_seconds": round(time.perf_counter() - start, 1),
                   "provenance": provenance(command or f"labkit bias-audit --parts {part}", seed)}
        write_json_atomically(summary_path, summary)
        summaries[part] = summary
    return summaries
