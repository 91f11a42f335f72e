"""Taking gender out of a sentiment classifier, and checking what is left: CDA, hard debiasing, INLP.

* **Counterfactual data augmentation** (CDA; Zhao et al., 2018; Lu et al., 2020): every training text
  that :func:`~labkit.bias.counterfactual.swap_gender` changes is added once more, swapped, with the same
  label (:func:`augment_with_counterfactuals`); the classifier is fine-tuned on that (:func:`cda_fine_tune`).
* **Projection** of frozen MiniLM sentence embeddings feeding a logistic regression
  (:func:`debiased_sentiment_classifier`). Hard debiasing's *neutralise* step (Bolukbasi et al., 2016):
  a gender direction, the first principal component of the differences between definitional pairs'
  embeddings (:func:`gender_direction` on :func:`definitional_sentences`), removed by an orthogonal
  projection (:func:`project_out`); the *equalise* step is left out (it rewrites word pairs of a
  vocabulary, and a sentence classifier has none). Or INLP (Ravfogel et al., 2020; :func:`inlp`): train
  a linear classifier to predict gender (:func:`gendered_sentences`), project onto its null space, repeat.
* **Is gender still there?** Gonen & Goldberg (2019, "Lipstick on a pig"): :func:`recoverability` (a
  cross-validated classifier, beside the chance rate) and :func:`cluster_alignment` (two k-means
  clusters of the most gender-associated items, :func:`most_associated`, against their gender).

A projection is a matrix ``P`` (``(d, d)``, symmetric, ``P @ P == P``) applied to rows as ``X @ P``, not
re-normalised unless asked (``normalise=True``, as Bolukbasi et al. do for words): so it stays one linear
map for both methods, and the classifier standardises its features anyway.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from labkit.bias.names import NAME_PAIRS
from labkit.errors import ConfigError, DatasetError

if TYPE_CHECKING:  # pragma: no cover
    from datasets import DatasetDict

    from labkit.finetune import FineTuneResult

MARK_COLUMN, SOURCE_COLUMN = "counterfactual", "source_row"
"""The columns CDA adds to the train split: ``True`` on the rows it added; the row each row comes from."""


@dataclass(frozen=True)
class AugmentationCounts:
    """How much CDA added: ``original`` training texts, of which ``changed`` had a gendered word."""

    original: int
    changed: int

    @property
    def share_changed(self) -> float:
        """The share of training texts that had a gendered word to swap (and got a counterfactual)."""
        return self.changed / self.original


class Augmentation(NamedTuple):
    """What :func:`augment_with_counterfactuals` returns (unpacks as ``dataset, counts``)."""

    dataset: DatasetDict
    counts: AugmentationCounts


def augment_with_counterfactuals(dataset: Any, *, text_column: str = "text",
                                 swap: Callable[[str], str] | None = None) -> Augmentation:
    """Counterfactual data augmentation of the train split: each text ``swap`` changes, added swapped.

    ``dataset``: a ``datasets.DatasetDict`` with a ``train`` split. For every training row whose text
    ``swap(text)`` changes (default :func:`labkit.bias.counterfactual.swap_gender`), a copy with the
    swapped text is appended, every other column (the label included) copied. The train split gains two
    columns: :data:`MARK_COLUMN` (``True`` on the added rows) and :data:`SOURCE_COLUMN` (the row each
    row comes from). Every other split is returned **untouched**: the model must be chosen and measured
    on the distribution it will meet, and the accuracy before and after CDA on the same texts.
    """
    from datasets import Dataset, DatasetDict, concatenate_datasets

    if not isinstance(dataset, DatasetDict) or len(dataset.get("train", ())) == 0:
        raise DatasetError(f"expected a datasets.DatasetDict with a non-empty train split, got {type(dataset).__name__}"
                           + (f" with splits {list(dataset)}" if isinstance(dataset, dict) else ""))
    train = dataset["train"]
    if text_column not in train.column_names:
        raise DatasetError(f"the train split has no column {text_column!r}; its columns: {train.column_names}")
    if MARK_COLUMN in train.column_names or SOURCE_COLUMN in train.column_names:
        raise DatasetError(f"the train split already has a {MARK_COLUMN!r} column: was it augmented already?")
    if swap is None:
        from labkit.bias.counterfactual import swap_gender as swap
    if not callable(swap):
        raise ConfigError(f"swap must be a function text -> text, got {type(swap).__name__}")
    texts = train[text_column]
    if not all(isinstance(text, str) for text in texts):
        raise DatasetError(f"the train split's {text_column!r} column must hold text only")
    swapped = [swap(text) for text in texts]
    if not all(isinstance(new, str) for new in swapped):
        raise ConfigError("swap must return a string for every text")
    changed = [row for row, (text, new) in enumerate(zip(texts, swapped, strict=True)) if new != text]
    columns = {**train.select(changed).to_dict(), text_column: [swapped[row] for row in changed]}
    original = train.add_column(MARK_COLUMN, [False] * len(train)).add_column(SOURCE_COLUMN, list(range(len(train))))
    added = Dataset.from_dict({**columns, MARK_COLUMN: [True] * len(changed), SOURCE_COLUMN: changed},
                              features=original.features)
    augmented = DatasetDict({**dataset, "train": concatenate_datasets([original, added])})
    return Augmentation(augmented, AugmentationCounts(len(train), len(changed)))


def cda_fine_tune(model_name: str, dataset: Any, *, text_column: str = "text", swap: Callable[[str], str] | None = None,
                  **fine_tune_options: Any) -> tuple[FineTuneResult, AugmentationCounts]:
    """Fine-tune ``model_name`` on the counterfactually augmented ``dataset``: ``(result, counts)``.

    :func:`augment_with_counterfactuals`, then :func:`labkit.finetune.fine_tune` with
    ``fine_tune_options`` (``recipe``, ``epochs``, ``seed``, ...). ``train_limit=N`` samples the N
    *original* texts first (as ``fine_tune`` would, same seed) and then adds their counterfactuals, so a
    run without CDA and the same ``train_limit`` sees the same originals. The result's name ends in
    ``-cda`` and its ``config`` records the counts.
    """
    import dataclasses

    from labkit.finetune import fine_tune, limit_training_set

    limit = fine_tune_options.pop("train_limit", None)
    if limit is not None:
        dataset = limit_training_set(dataset, limit, fine_tune_options.get("seed", 0))
    augmented, counts = augment_with_counterfactuals(dataset, text_column=text_column, swap=swap)
    result = fine_tune(model_name, augmented, text_column=text_column, **fine_tune_options)
    config = {**result.config, "counterfactual_augmentation": {"original": counts.original, "added": counts.changed}}
    return dataclasses.replace(result, name=f"{result.name}-cda", config=config), counts


DEFINITIONAL_PAIRS: tuple[tuple[str, str], ...] = (
    ("she", "he"), ("her", "his"), ("woman", "man"), ("Mary", "John"), ("herself", "himself"),
    ("daughter", "son"), ("mother", "father"), ("gal", "guy"), ("girl", "boy"), ("female", "male"),
)
"""Bolukbasi et al.'s (2016) ten (female, male) definitional pairs, in their order."""

DIRECTION_TEMPLATES: tuple[str, ...] = ("{word}", 'The word "{word}".')
"""Each definitional word alone and quoted ("the word 'her'"), grammatical for pronouns and nouns alike."""

PERSON_NOUNS: tuple[tuple[str, str], ...] = (
    ("woman", "man"), ("girl", "boy"), ("lady", "gentleman"), ("mother", "father"), ("daughter", "son"),
    ("sister", "brother"), ("aunt", "uncle"), ("niece", "nephew"), ("wife", "husband"),
    ("girlfriend", "boyfriend"), ("bride", "groom"), ("queen", "king"), ("princess", "prince"),
    ("actress", "actor"), ("waitress", "waiter"), ("grandmother", "grandfather"), ("widow", "widower"),
    ("nun", "monk"),
)
"""(female, male) person nouns, all from :data:`labkit.bias.names.GENDERED_NOUNS`; used as "the woman"."""

PERSON_TEMPLATES: tuple[str, ...] = (
    "{Person} plays the lead in this film.", "The film follows {person} for one summer.",
    "{Person} appears in the second half of the movie.", "The story is told by {person}.",
    "This is a movie about {person}.", "{Person} is on screen for most of the film.")
"""Sentiment-neutral sentences about a person, in the movie-review domain the classifier works in."""


def definitional_sentences(pairs: Sequence[tuple[str, str]] = DEFINITIONAL_PAIRS,
                           templates: Sequence[str] = DIRECTION_TEMPLATES) -> pd.DataFrame:
    """Every (female, male) pair in every template: columns ``pair``, ``template``, ``female``, ``male``."""
    if not len(pairs) or not len(templates):
        raise ConfigError("need at least one definitional pair and one template")
    return pd.DataFrame([{"pair": f"{female}/{male}", "template": template,
                          "female": template.format(word=female), "male": template.format(word=male)}
                         for female, male in pairs for template in templates])


def gendered_sentences(names: Sequence[tuple[str, str]] = NAME_PAIRS, nouns: Sequence[tuple[str, str]] = PERSON_NOUNS,
                       templates: Sequence[str] = PERSON_TEMPLATES) -> pd.DataFrame:
    """Sentences about a female or a male person, labelled: the training data of a gender classifier.

    Persons: the first names of ``names`` (default the kit's 50 :data:`~labkit.bias.names.NAME_PAIRS`)
    and "the" + each noun of ``nouns`` (:data:`PERSON_NOUNS`), each pair in every template
    (:data:`PERSON_TEMPLATES`). Columns: ``pair`` (an integer per person pair: use it as the group when
    splitting, so held-out sentences have held-out persons), ``kind`` ("name" or "noun"), ``person``,
    ``female`` (1 female, 0 male), ``template``, ``sentence``.
    """
    persons = [(f, m, "name") for f, m in names] + [(f"the {f}", f"the {m}", "noun") for f, m in nouns]
    if not persons or not len(templates):
        raise ConfigError("need at least one person pair and one template")
    rows = []
    for pair, (female, male, kind) in enumerate(persons):
        for template in templates:
            for person, is_female in ((female, 1), (male, 0)):
                sentence = template.format(person=person, Person=person[0].upper() + person[1:])
                rows.append({"pair": pair, "kind": kind, "person": person, "female": is_female,
                             "template": template, "sentence": sentence})
    return pd.DataFrame(rows)


def _matrix(name: str, values: Any, dim: int | None = None) -> np.ndarray:
    """``values`` as a finite float matrix ``(n, d)`` (a single vector becomes one row); clear errors."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 1 and array.size:
        array = array[None, :]
    if array.ndim != 2 or 0 in array.shape:
        raise ConfigError(f"{name} must be a non-empty set of vectors, shape (n, d), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{name} contains NaN or infinite values")
    if dim is not None and array.shape[1] != dim:
        raise ConfigError(f"{name} has dimension {array.shape[1]}, expected {dim}")
    return array


@dataclass(frozen=True)
class GenderDirection:
    """``direction`` ``(d,)``: a unit vector pointing from male to female; ``explained_variance_ratio``
    ``(k,)``: the share of the pairs' variance along each of the first ``k`` principal components."""

    direction: np.ndarray
    explained_variance_ratio: np.ndarray


def gender_direction(female: Any, male: Any, n_components: int = 10) -> GenderDirection:
    """Bolukbasi et al.'s gender direction: the first principal component of the pairs' differences.

    ``female``, ``male``: ``(n_pairs, d)`` embeddings, row ``i`` of each one pair. As in Bolukbasi et
    al.'s code, each pair is centred on its own mean (rows ``(f - m) / 2`` and ``-(f - m) / 2``) and PCA
    (scikit-learn) is fitted to those ``2 n`` rows. Not PCA on the differences ``f - m``: PCA subtracts
    their mean, the very direction they share, and would leave the noise. The sign makes the direction
    point towards the female words. ``explained_variance_ratio``: the first ``min(n_components, 2 n, d)``
    components; a first one far above the rest is what makes "a direction" a fair summary.
    """
    from sklearn.decomposition import PCA

    female, male = _matrix("female", female), _matrix("male", male)
    if female.shape != male.shape:
        raise ConfigError(f"female and male must be aligned pairs of one shape, got {female.shape}, {male.shape}")
    half = (female - male) / 2
    if not np.any(half):
        raise ConfigError("every female embedding equals its male one: there is no direction to find")
    stacked = np.vstack([half, -half])
    pca = PCA(n_components=min(n_components, *stacked.shape)).fit(stacked)
    direction = pca.components_[0] / np.linalg.norm(pca.components_[0])
    if direction @ half.sum(axis=0) < 0:
        direction = -direction
    return GenderDirection(direction, pca.explained_variance_ratio_)


def nullspace_projection(directions: Any) -> np.ndarray:
    """The orthogonal projection onto the space orthogonal to every row of ``directions``: ``(d, d)``.

    ``directions``: ``(k, d)`` or one ``(d,)`` vector, of any length, not necessarily orthogonal. With
    ``B`` an orthonormal basis of their span (SVD; directions that add nothing to the span are dropped),
    ``P = I - B^T B``: symmetric, ``P @ P = P``, ``direction @ P = 0``.
    """
    directions = _matrix("directions", directions)
    _, singular, rows = np.linalg.svd(directions, full_matrices=False)
    if singular[0] == 0:
        raise ConfigError("the directions are all zero vectors: a zero vector has no direction")
    basis = rows[singular > singular[0] * max(directions.shape) * np.finfo(float).eps]  # (rank, d)
    return np.eye(directions.shape[1]) - basis.T @ basis


def project_out(embeddings: Any, directions: Any, *, normalise: bool = False) -> np.ndarray:
    """``embeddings`` with their components along ``directions`` removed: ``(n, d)`` (or ``(d,)`` for one).

    The orthogonal projection ``X @ P`` (:func:`nullspace_projection`): each projected vector is
    orthogonal to every direction, and a vector already orthogonal to them is unchanged. With
    ``normalise=True`` each result is scaled back to unit length (Bolukbasi et al.'s neutralise step); a
    vector that lay entirely in the span stays zero.
    """
    single = np.ndim(embeddings) == 1
    directions = _matrix("directions", directions)
    X = _matrix("embeddings", embeddings, dim=directions.shape[1])
    projected = X @ nullspace_projection(directions)
    if normalise:
        norms = np.linalg.norm(projected, axis=1, keepdims=True)
        projected = np.divide(projected, norms, out=np.zeros_like(projected), where=norms > 1e-12)
    return projected[0] if single else projected


def _labels(name: str, labels: Any, n: int) -> np.ndarray:
    array = np.asarray(labels)
    if array.shape != (n,):
        raise ConfigError(f"{name} must hold one label per embedding ({n}), got shape {array.shape}")
    if len(np.unique(array)) < 2:
        raise ConfigError(f"{name} has a single class: a classifier needs at least two")
    return array


@dataclass(frozen=True)
class INLPResult:
    """``projection`` ``(d, d)`` onto the intersection of the classifiers' null spaces; ``directions``
    ``(k * r, d)``, their weight vectors (``r = 1`` for two classes); ``train_accuracy``, ``dev_accuracy``
    ``(k + 1,)``: entry ``i``, the accuracy of a classifier trained after ``i`` projections (the last is
    not projected out); ``dev_accuracy`` is NaN without ``dev`` data."""

    projection: np.ndarray
    directions: np.ndarray
    train_accuracy: np.ndarray
    dev_accuracy: np.ndarray


def inlp(embeddings: Any, labels: Any, *, iterations: int = 10, dev: tuple[Any, Any] | None = None, C: float = 0.1,
         seed: int = 0) -> INLPResult:
    """Iterative null-space projection (Ravfogel et al., 2020): remove what a linear classifier can see.

    ``embeddings`` ``(n, d)``, ``labels`` ``(n,)`` (e.g. gender); ``dev = (embeddings, labels)``:
    held-out data for the per-iteration accuracy. Each of ``iterations`` rounds trains a logistic
    regression (scikit-learn, ``C``) on the embeddings projected so far, adds its weight vector(s) to the
    removed set, and recomputes ``P``, the projection onto the intersection of all null spaces so far
    (:func:`nullspace_projection` of every weight vector, as Ravfogel et al.'s code does). The embeddings
    are divided by one number (their standard deviation), not per coordinate, so ``C`` acts as on
    standardised data while the weights keep their direction. A round whose classifier is at chance
    still removes a direction (a random one); with ``n`` close to ``d`` the classifier fits the training
    set by heart, so read ``dev_accuracy``. Only *linear* information is removed: a nonlinear
    classifier may still recover the labels (:func:`recoverability`).
    """
    from sklearn.linear_model import LogisticRegression

    X = _matrix("embeddings", embeddings)
    y = _labels("labels", labels, len(X))
    if not isinstance(iterations, (int, np.integer)) or not 1 <= iterations <= X.shape[1]:
        raise ConfigError(f"iterations must be a whole number from 1 to the dimension {X.shape[1]}, got {iterations!r}")
    if dev is not None:
        X_dev = _matrix("dev embeddings", dev[0], dim=X.shape[1])
        y_dev = _labels("dev labels", dev[1], len(X_dev))
    scale = X.std()  # one number for all coordinates: C acts as on standardised data, directions do not rotate
    P, weights, train_accuracy, dev_accuracy = np.eye(X.shape[1]), [], [], []
    for step in range(iterations + 1):
        classifier = LogisticRegression(C=C, max_iter=5000, random_state=seed).fit(X @ P / scale, y)
        train_accuracy.append(classifier.score(X @ P / scale, y))
        dev_accuracy.append(classifier.score(X_dev @ P / scale, y_dev) if dev is not None else np.nan)
        if step < iterations:
            weights.append(classifier.coef_)
            P = nullspace_projection(np.vstack(weights))
    return INLPResult(P, np.vstack(weights), np.array(train_accuracy), np.array(dev_accuracy))


@dataclass(frozen=True)
class Recoverability:
    """Cross-validated accuracy of predicting the labels, fold by fold, beside the chance rate.

    ``fold_accuracy`` ``(folds,)``: the classifier's accuracy on each held-out fold; ``fold_chance``
    ``(folds,)``: the accuracy, on the same folds, of always predicting the training fold's majority.
    """

    classifier: str
    fold_accuracy: np.ndarray
    fold_chance: np.ndarray

    @property
    def accuracy(self) -> float:
        """Mean accuracy over the folds."""
        return float(self.fold_accuracy.mean())

    @property
    def spread(self) -> float:
        """Standard deviation of the accuracy across folds (``ddof=1``)."""
        return float(self.fold_accuracy.std(ddof=1))

    @property
    def chance(self) -> float:
        """Mean majority-class accuracy over the same folds."""
        return float(self.fold_chance.mean())


RECOVERY_CLASSIFIERS = ("logistic", "rbf-svm")
"""On standardised features: logistic regression (linear), or an SVM with an RBF kernel (nonlinear, as Gonen
& Goldberg's classification test)."""


def recoverability(embeddings: Any, labels: Any, *, groups: Any = None, folds: int = 5, classifier: str = "logistic",
                   seed: int = 0) -> Recoverability:
    """Can a classifier still predict ``labels`` from ``embeddings``? Gonen & Goldberg's (2019) test.

    ``folds``-fold cross-validation (scikit-learn): with ``groups`` (``(n,)``, e.g. the person pair of
    each sentence) by ``GroupKFold``, so every test fold holds words the classifier never saw; otherwise
    ``StratifiedKFold`` (shuffled, ``seed``). ``classifier``: one of :data:`RECOVERY_CLASSIFIERS`. An
    accuracy well above ``chance`` after debiasing means the "debiased" embeddings still encode gender.
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X = _matrix("embeddings", embeddings)
    y = _labels("labels", labels, len(X))
    if classifier not in RECOVERY_CLASSIFIERS:
        raise ConfigError(f"unknown classifier {classifier!r}; choose one of {RECOVERY_CLASSIFIERS}")
    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ConfigError(f"folds must be a whole number >= 2, got {folds!r}")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != y.shape or len(np.unique(groups)) < folds:
            raise ConfigError(f"groups must give one group per embedding, with at least {folds} groups")
        splits = list(GroupKFold(n_splits=folds).split(X, y, groups))
    else:
        splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(X, y))
    model = (LogisticRegression(max_iter=5000, random_state=seed) if classifier == "logistic"
             else SVC(kernel="rbf", random_state=seed))
    accuracy = cross_val_score(make_pipeline(StandardScaler(), model), X, y, cv=splits)
    chance = cross_val_score(DummyClassifier(strategy="most_frequent"), X, y, cv=splits)
    return Recoverability(classifier, accuracy, chance)


def most_associated(embeddings: Any, direction: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows projecting furthest along ``direction`` and the ``k`` furthest against it.

    Returns ``(indices (2k,), labels (2k,))``: the ``k`` most positive rows labelled 1 (female-associated,
    for a direction pointing to female), then the ``k`` most negative labelled 0: Gonen & Goldberg's
    most biased words, chosen *before* debiasing and clustered after.
    """
    X = _matrix("embeddings", embeddings)
    direction = _matrix("direction", direction, dim=X.shape[1])[0]
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= len(X) // 2:
        raise ConfigError(f"k must be between 1 and half the {len(X)} embeddings, got {k!r}")
    order = np.argsort(X @ direction, kind="stable")
    indices = np.concatenate([order[::-1][:k], order[:k]])
    return indices, np.repeat([1, 0], k)


def cluster_alignment(embeddings: Any, labels: Any, *, seed: int = 0, n_init: int = 10) -> float:
    """How well two k-means clusters (scikit-learn, ``n_init`` starts) match two labels, from 0.5 to 1.

    The share of rows whose cluster agrees with their label, under the better naming of the two clusters
    (Gonen & Goldberg's "alignment with gender"): 1, the clusters are the labels; ~0.5, they ignore them.
    """
    from sklearn.cluster import KMeans

    X = _matrix("embeddings", embeddings)
    y = _labels("labels", labels, len(X))
    values = np.unique(y)
    if len(values) != 2:
        raise ConfigError(f"cluster alignment needs exactly two labels, got {len(values)}")
    clusters = KMeans(n_clusters=2, n_init=n_init, random_state=seed).fit_predict(X)
    agree = float(np.mean(clusters == (y == values[1])))
    return max(agree, 1 - agree)


SPLITS = ("train", "validation", "test")


@dataclass
class EmbeddingClassifier:
    """A logistic regression on frozen embeddings, after an optional projection; chosen on validation.

    ``accuracy`` and ``majority_accuracy``: per split (``validation``, ``test``); the majority rate is
    the accuracy of always predicting the training split's most frequent class. ``validation_by_C``:
    the validation accuracy of every ``C`` tried. ``test_predictions`` ``(n_test,)``.
    """

    C: float
    accuracy: dict[str, float]
    majority_accuracy: dict[str, float]
    validation_by_C: dict[float, float]
    pipeline: Any = field(repr=False)
    projection: np.ndarray | None = field(repr=False)
    test_predictions: np.ndarray = field(repr=False)

    def predict_proba(self, embeddings: Any) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` for ``(n, d)`` embeddings (projected first, if set)."""
        X = _matrix("embeddings", embeddings)
        return self.pipeline.predict_proba(X if self.projection is None else X @ self.projection)

    def text_predictor(self, tokenizer: Any, model: Any) -> Callable[[list[str]], np.ndarray]:
        """``texts -> (n, n_classes)`` probabilities via MiniLM (what counterfactual flip rates take)."""
        from labkit.bias.weat import sentence_embeddings

        return lambda texts: self.predict_proba(sentence_embeddings(tokenizer, model, list(texts)))


def debiased_sentiment_classifier(features: Mapping[str, Any], labels: Mapping[str, Any], projection: Any = None, *,
                                  C_values: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
                                  seed: int = 0) -> EmbeddingClassifier:
    """Logistic regression on frozen (optionally projected) embeddings, ``C`` chosen on validation.

    ``features``: ``{"train": (n_train, d), "validation": ..., "test": ...}`` embeddings (e.g. MiniLM's
    :func:`~labkit.bias.weat.sentence_embeddings`, computed once by the caller); ``labels``: the same
    splits, ``(n,)`` each. ``projection``: ``None`` or a ``(d, d)`` matrix applied as ``X @ P`` to every
    split (:func:`nullspace_projection` of a :func:`gender_direction`, or :func:`inlp`'s). The pipeline is
    standardisation then logistic regression, as :func:`labkit.finetune.linear_probe`; each ``C`` is
    fitted on train and the best validation accuracy wins (ties: the smaller ``C``). The test split is
    scored once, with the chosen model, so the accuracy with and without a projection is comparable.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    missing = [split for split in SPLITS if split not in features or split not in labels]
    if missing:
        raise DatasetError(f"features and labels need the splits {SPLITS}; missing: {missing}")
    if not len(C_values) or min(C_values) <= 0:
        raise ConfigError(f"C_values must be positive numbers, got {tuple(C_values)}")
    dim = _matrix("train features", features["train"]).shape[1]
    X = {split: _matrix(f"{split} features", features[split], dim=dim) for split in SPLITS}
    y = {split: _labels(f"{split} labels", labels[split], len(X[split])) for split in SPLITS}
    P = None if projection is None else np.asarray(projection, dtype=float)
    if P is not None and P.shape != (dim, dim):
        raise ConfigError(f"projection must be ({dim}, {dim}) for {dim}-d features, got shape {P.shape}")
    X = X if P is None else {split: X[split] @ P for split in SPLITS}
    by_C, best = {}, None
    for C in sorted(C_values):
        pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000, random_state=seed))
        pipeline.fit(X["train"], y["train"])
        by_C[C] = float(pipeline.score(X["validation"], y["validation"]))
        if best is None or by_C[C] > by_C[best[0]]:
            best = (C, pipeline)
    C, pipeline = best
    values, counts = np.unique(y["train"], return_counts=True)
    majority = values[np.argmax(counts)]  # always predicting it is the majority-class rate
    accuracy = {split: float(pipeline.score(X[split], y[split])) for split in ("validation", "test")}
    chance = {split: float(np.mean(y[split] == majority)) for split in ("validation", "test")}
    return EmbeddingClassifier(C, accuracy, chance, by_C, pipeline, P, pipeline.predict(X["test"]))
