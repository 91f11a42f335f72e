"""labkit.bias.mitigation: CDA, projections (hard debiasing, INLP), Gonen & Goldberg's checks, on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

import labkit.finetune
from labkit.bias.mitigation import (
    DEFINITIONAL_PAIRS,
    MARK_COLUMN,
    SOURCE_COLUMN,
    augment_with_counterfactuals,
    cda_fine_tune,
    cluster_alignment,
    debiased_sentiment_classifier,
    definitional_sentences,
    gender_direction,
    gendered_sentences,
    inlp,
    most_associated,
    nullspace_projection,
    project_out,
    recoverability,
)
from labkit.errors import ConfigError, DatasetError

# ---------------------------------------------------------------------------------------------- projections

# Hand-worked: u = (1, 1, 0), so the projection of v on u is (v . u / |u|^2) u.
#   v1 = (1, 0, 0): v . u = 1, minus (1/2)(1, 1, 0)  -> (0.5, -0.5, 0)
#   v2 = (0, 0, 2): orthogonal to u already          -> unchanged
#   v3 = (2, 2, 1): v . u = 4, minus 2 (1, 1, 0)     -> (0, 0, 1)
U = np.array([1.0, 1.0, 0.0])
V = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0], [2.0, 2.0, 1.0]])


def test_project_out_removes_a_known_direction_and_keeps_orthogonal_vectors() -> None:
    projected = project_out(V, U)
    np.testing.assert_allclose(projected, [[0.5, -0.5, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 1.0]], atol=1e-12)
    np.testing.assert_allclose(projected @ U, 0.0, atol=1e-12)
    np.testing.assert_allclose(project_out(V[1], U), V[1])  # one vector in, one vector out


def test_project_out_normalise_rescales_to_unit_length() -> None:
    projected = project_out(V, U, normalise=True)
    np.testing.assert_allclose(projected, [[0.5 ** 0.5, -(0.5 ** 0.5), 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]],
                               atol=1e-12)
    # a vector lying in the span becomes zero and stays zero (not NaN)
    np.testing.assert_array_equal(project_out([3.0, 3.0, 0.0], U, normalise=True), [0.0, 0.0, 0.0])


def test_projection_onto_several_directions_spans_them_and_matches_scipy() -> None:
    # two directions spanning the xy plane, one of them repeated (rank 2 out of 3 rows)
    directions = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [2.0, 0.0, 0.0]])
    P = nullspace_projection(directions)
    np.testing.assert_allclose(P, np.diag([0.0, 0.0, 1.0]), atol=1e-12)
    np.testing.assert_allclose(project_out([2.0, 2.0, 1.0], directions), [0.0, 0.0, 1.0], atol=1e-12)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 7))
    P = nullspace_projection(W)
    N = scipy.linalg.null_space(W)  # (7, 4) orthonormal basis of the null space
    np.testing.assert_allclose(P, N @ N.T, atol=1e-12)
    np.testing.assert_allclose(P, P.T, atol=1e-12)
    np.testing.assert_allclose(P @ P, P, atol=1e-12)
    np.testing.assert_allclose(W @ P, 0.0, atol=1e-12)


def test_projection_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="non-empty"):
        project_out(V, np.zeros((0, 3)))
    with pytest.raises(ConfigError, match="dimension 3, expected 2"):
        project_out(V, [1.0, 0.0])
    with pytest.raises(ConfigError, match="zero vector"):
        nullspace_projection([0.0, 0.0, 0.0])
    with pytest.raises(ConfigError, match="NaN"):
        project_out([[np.nan, 0.0, 1.0]], U)


# --------------------------------------------------------------------------------------- gender direction

def synthetic_pairs(n_pairs: int = 12, dim: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """female_i = base_i + g + noise, male_i = base_i - g + noise: every pair differs by 2 g (plus noise)."""
    rng = np.random.default_rng(seed)
    g = rng.normal(size=dim)
    g /= np.linalg.norm(g)
    base = rng.normal(size=(n_pairs, dim))
    female = base + g + 0.05 * rng.normal(size=(n_pairs, dim))
    male = base - g + 0.05 * rng.normal(size=(n_pairs, dim))
    return female, male, g


def test_gender_direction_recovers_the_planted_direction_pointing_to_female() -> None:
    female, male, g = synthetic_pairs()
    found = gender_direction(female, male)
    assert found.direction @ g > 0.99  # +g, not just +-g: the sign points towards the female rows
    np.testing.assert_allclose(np.linalg.norm(found.direction), 1.0)
    assert found.explained_variance_ratio[0] > 0.9
    assert found.explained_variance_ratio[0] > 10 * found.explained_variance_ratio[1]
    # the reference: the top right singular vector of the (uncentred) differences
    top = np.linalg.svd(female - male)[2][0]
    assert abs(found.direction @ top) == pytest.approx(1.0, abs=1e-9)
    # the swap of female and male flips the direction
    np.testing.assert_allclose(gender_direction(male, female).direction, -found.direction, atol=1e-9)


def test_why_the_pairs_are_centred_pca_on_raw_differences_misses_the_direction() -> None:
    from sklearn.decomposition import PCA

    female, male, g = synthetic_pairs()
    naive = PCA(n_components=1).fit(female - male).components_[0]  # centring removes the shared 2 g
    assert abs(naive @ g) < 0.5


def test_gender_direction_errors() -> None:
    female, male, _ = synthetic_pairs()
    with pytest.raises(ConfigError, match="same shape|one shape"):
        gender_direction(female, male[:-1])
    with pytest.raises(ConfigError, match="non-empty"):
        gender_direction(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ConfigError, match="no direction"):
        gender_direction(female, female)


def test_definitional_and_gendered_sentences() -> None:
    table = definitional_sentences(templates=("{word}", 'The word "{word}".'))
    assert len(table) == 2 * len(DEFINITIONAL_PAIRS) == 20
    assert table.iloc[1].to_dict() == {"pair": "she/he", "template": 'The word "{word}".',
                                       "female": 'The word "she".', "male": 'The word "he".'}
    with pytest.raises(ConfigError):
        definitional_sentences(pairs=())
    sentences = gendered_sentences(names=[("Mary", "John")], nouns=[("woman", "man")],
                                   templates=("{Person} smiled.", "I met {person}."))
    assert sentences["sentence"].tolist() == ["Mary smiled.", "John smiled.", "I met Mary.", "I met John.",
                                              "The woman smiled.", "The man smiled.", "I met the woman.",
                                              "I met the man."]
    assert sentences["female"].tolist() == [1, 0] * 4
    assert sentences["pair"].tolist() == [0] * 4 + [1] * 4
    assert len(gendered_sentences()) == (50 + 18) * 6 * 2


# ----------------------------------------------------------------------------------------------------- INLP

def planted_gender(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """10-d data: gender shifts the means of dims 0 and 1 (linear) and the spread of dim 2 (nonlinear only)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 10))
    sign = 2 * y - 1
    X[:, 0] += 1.5 * sign
    X[:, 1] += 1.0 * sign
    X[:, 2] *= np.where(y == 1, 2.5, 0.4)  # same mean for both: invisible to a linear classifier
    return X, y


def test_inlp_removes_linear_gender_but_leaves_a_nonlinear_signal() -> None:
    """Gonen & Goldberg's point in miniature. Tolerances (seeded data, n = 2000): chance is 0.5 and a
    fold's accuracy has a standard error near 0.025; the linear classifier must end below 0.56, the RBF
    SVM (which reads the variance of dim 2) must stay above 0.68 (it measures about 0.73)."""
    X, y = planted_gender()
    before = recoverability(X, y, classifier="logistic")
    assert before.accuracy > 0.95 and before.chance == pytest.approx(0.5, abs=0.03)
    result = inlp(X, y, iterations=2, seed=0)
    assert result.train_accuracy[0] > 0.95 and result.train_accuracy[-1] < 0.56
    assert result.projection.shape == (10, 10) and result.directions.shape == (2, 10)
    np.testing.assert_allclose(result.projection @ result.projection, result.projection, atol=1e-10)
    np.testing.assert_allclose(result.directions @ result.projection, 0.0, atol=1e-10)
    debiased = X @ result.projection
    assert recoverability(debiased, y, classifier="logistic").accuracy < 0.56
    assert recoverability(debiased, y, classifier="rbf-svm").accuracy > 0.68
    # the removed directions lie (almost) in the planted plane of dims 0 and 1
    assert np.linalg.norm(result.directions[0, :2]) / np.linalg.norm(result.directions[0]) > 0.99


def test_inlp_dev_accuracy_and_errors() -> None:
    X, y = planted_gender()
    result = inlp(X[:1500], y[:1500], iterations=1, dev=(X[1500:], y[1500:]))
    assert result.dev_accuracy.shape == (2,) and result.dev_accuracy[0] > 0.95 and result.dev_accuracy[1] < 0.6
    assert np.isnan(inlp(X, y, iterations=1).dev_accuracy).all()
    with pytest.raises(ConfigError, match="iterations"):
        inlp(X, y, iterations=0)
    with pytest.raises(ConfigError, match="iterations"):
        inlp(X, y, iterations=11)
    with pytest.raises(ConfigError, match="single class"):
        inlp(X, np.zeros(len(X)))
    with pytest.raises(ConfigError, match="one label per embedding"):
        inlp(X, y[:-1])
    with pytest.raises(ConfigError, match="dimension 9, expected 10"):
        inlp(X, y, dev=(X[:, :9], y))


# ---------------------------------------------------------------------------------- Gonen & Goldberg checks

def test_recoverability_chance_is_the_majority_rate_on_each_fold() -> None:
    # 30 of class 0 (values 0..29) and 10 of class 1 (values 100..109); stratified 5 folds hold 6 and 2 of
    # them: always "0" scores 6/8 on each fold, and a gap of 70 makes the classes separable on every fold
    X = np.concatenate([np.arange(30), 100 + np.arange(10)]).astype(float)[:, None] * [1.0, -1.0]
    y = np.array([0] * 30 + [1] * 10)
    result = recoverability(X, y)
    np.testing.assert_allclose(result.fold_chance, 0.75)
    assert result.chance == 0.75 and result.accuracy == 1.0 and result.spread == 0.0


def test_recoverability_with_groups_holds_out_whole_groups() -> None:
    """40 groups of near-identical points with a random label per group: the label is learnable only by
    memorising groups. Without groups the RBF SVM does memorise (> 0.9); with groups it is held out, and
    the accuracy is near chance (with 40 groups its standard error is near 0.08: below 0.75)."""
    rng = np.random.default_rng(1)
    centres, group_labels = rng.normal(size=(40, 5)), rng.integers(0, 2, 40)
    groups = np.repeat(np.arange(40), 10)
    X = centres[groups] + 0.01 * rng.normal(size=(400, 5))
    y = group_labels[groups]
    assert recoverability(X, y, classifier="rbf-svm").accuracy > 0.9
    assert recoverability(X, y, groups=groups, classifier="rbf-svm").accuracy < 0.75
    with pytest.raises(ConfigError, match="groups"):
        recoverability(X, y, groups=groups[:-1])
    with pytest.raises(ConfigError, match="folds"):
        recoverability(X, y, folds=1)
    with pytest.raises(ConfigError, match="unknown classifier"):
        recoverability(X, y, classifier="mlp")


def test_most_associated_takes_both_ends_of_the_direction() -> None:
    X = np.array([[3.0, 9.0], [-1.0, 0.0], [0.5, 1.0], [-4.0, 2.0], [2.0, -5.0]])  # projections on e0: 3 -1 .5 -4 2
    indices, labels = most_associated(X, [1.0, 0.0], k=2)
    assert indices.tolist() == [0, 4, 3, 1] and labels.tolist() == [1, 1, 0, 0]
    with pytest.raises(ConfigError, match="k must be"):
        most_associated(X, [1.0, 0.0], k=3)


def test_cluster_alignment_on_two_blobs() -> None:
    X = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [0.1, 0.1], [10.0, 10.0], [10.1, 10.0], [10.0, 10.1],
                  [10.1, 10.1]])
    assert cluster_alignment(X, [1, 1, 1, 1, 0, 0, 0, 0]) == 1.0
    assert cluster_alignment(X, [0, 0, 0, 0, 1, 1, 1, 1]) == 1.0  # cluster names do not matter
    assert cluster_alignment(X, [1, 1, 1, 0, 0, 0, 0, 0]) == 7 / 8
    assert cluster_alignment(X, [1, 1, 0, 0, 1, 1, 0, 0]) == 0.5
    with pytest.raises(ConfigError, match="exactly two labels"):
        cluster_alignment(X, [0, 1, 2, 0, 1, 2, 0, 1])


# ---------------------------------------------------------------------------- classifier on frozen features

def sentiment_splits(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Sentiment in dim 0, gender in dim 1 (unrelated to sentiment), noise in dims 2-4; 60% positive."""
    rng = np.random.default_rng(seed)
    features, labels = {}, {}
    for split, n in (("train", 500), ("validation", 200), ("test", 200)):
        y = (np.arange(n) < 0.6 * n).astype(int)
        X = rng.normal(size=(n, 5))
        X[:, 0] += 2.0 * (2 * y - 1)
        X[:, 1] += 3.0 * (2 * rng.integers(0, 2, n) - 1)
        features[split], labels[split] = X, y
    return features, labels


def test_debiased_classifier_keeps_accuracy_when_the_removed_direction_is_not_sentiment() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = sentiment_splits()
    plain = debiased_sentiment_classifier(features, labels)
    gender_out = debiased_sentiment_classifier(features, labels, nullspace_projection([0.0, 1.0, 0.0, 0.0, 0.0]))
    sentiment_out = debiased_sentiment_classifier(features, labels, nullspace_projection([1.0, 0.0, 0.0, 0.0, 0.0]))
    assert plain.majority_accuracy == {"validation": 0.6, "test": 0.6}  # 60% positive in every split
    assert plain.accuracy["test"] > 0.9 and abs(gender_out.accuracy["test"] - plain.accuracy["test"]) < 0.03
    assert sentiment_out.accuracy["test"] < 0.7  # only noise left: about the majority rate
    assert gender_out.C == max(gender_out.validation_by_C, key=gender_out.validation_by_C.get)
    # the reference: scikit-learn's pipeline fitted by hand on the projected features, with the chosen C
    P = gender_out.projection
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=gender_out.C, max_iter=5000, random_state=0))
    reference.fit(features["train"] @ P, labels["train"])
    np.testing.assert_array_equal(gender_out.test_predictions, reference.predict(features["test"] @ P))
    np.testing.assert_allclose(gender_out.predict_proba(features["test"]),
                               reference.predict_proba(features["test"] @ P))


def test_debiased_classifier_errors() -> None:
    features, labels = sentiment_splits()
    with pytest.raises(DatasetError, match="missing"):
        debiased_sentiment_classifier({"train": features["train"]}, labels)
    with pytest.raises(ConfigError, match="projection must be"):
        debiased_sentiment_classifier(features, labels, np.eye(4))
    with pytest.raises(ConfigError, match="C_values"):
        debiased_sentiment_classifier(features, labels, C_values=(0.0,))
    with pytest.raises(ConfigError, match="dimension 4, expected 5"):
        debiased_sentiment_classifier({**features, "test": features["test"][:, :4]}, labels)


# ------------------------------------------------------------------------------------------------------ CDA

FEATURES = Features({"text": Value("string"), "label": ClassLabel(names=["negative", "positive"])})


def tiny_dataset() -> DatasetDict:
    return DatasetDict({
        "train": Dataset.from_dict({"text": ["She loved it.", "A fine film.", "His acting is bad.",
                                             "The man and the woman argue."], "label": [1, 1, 0, 0]},
                                   features=FEATURES),
        "validation": Dataset.from_dict({"text": ["He was great."], "label": [1]}, features=FEATURES),
        "test": Dataset.from_dict({"text": ["Her film is dull."], "label": [0]}, features=FEATURES),
    })


def test_cda_adds_each_changed_text_swapped_with_its_label() -> None:
    dataset = tiny_dataset()
    augmented, counts = augment_with_counterfactuals(dataset)  # the default swap: swap_gender
    assert (counts.original, counts.changed, counts.share_changed) == (4, 3, 0.75)
    train = augmented["train"]
    assert train["text"] == ["She loved it.", "A fine film.", "His acting is bad.", "The man and the woman argue.",
                             "He loved it.", "Her acting is bad.", "The woman and the man argue."]
    assert train["label"] == [1, 1, 0, 0, 1, 0, 0]
    assert train[MARK_COLUMN] == [False] * 4 + [True] * 3
    assert train[SOURCE_COLUMN] == [0, 1, 2, 3, 0, 2, 3]
    assert train.features["label"] == FEATURES["label"]  # still a ClassLabel, so fine_tune reads it
    assert augmented["validation"] is dataset["validation"] and augmented["test"] is dataset["test"]
    assert augmented["validation"]["text"] == ["He was great."] and augmented["test"]["text"] == ["Her film is dull."]
    assert dataset["train"].num_rows == 4 and MARK_COLUMN not in dataset["train"].column_names  # input untouched


def test_cda_with_a_custom_swap_and_nothing_to_swap() -> None:
    swap = {"She loved it.": "He loved it."}.get
    augmented, counts = augment_with_counterfactuals(tiny_dataset(), swap=lambda text: swap(text, text))
    assert counts.changed == 1 and augmented["train"]["text"][-1] == "He loved it."
    augmented, counts = augment_with_counterfactuals(tiny_dataset(), swap=lambda text: text)
    assert counts.changed == 0 and augmented["train"].num_rows == 4 and augmented["train"][MARK_COLUMN] == [False] * 4


def test_cda_errors_are_clear() -> None:
    with pytest.raises(DatasetError, match="DatasetDict"):
        augment_with_counterfactuals(pd.DataFrame({"text": ["she"]}))
    with pytest.raises(DatasetError, match="non-empty train split"):
        augment_with_counterfactuals(DatasetDict({"test": tiny_dataset()["test"]}))
    with pytest.raises(DatasetError, match="no column 'review'"):
        augment_with_counterfactuals(tiny_dataset(), text_column="review")
    augmented, _ = augment_with_counterfactuals(tiny_dataset())
    with pytest.raises(DatasetError, match="augmented already"):
        augment_with_counterfactuals(augmented)
    with pytest.raises(ConfigError, match="function"):
        augment_with_counterfactuals(tiny_dataset(), swap="swap_gender")
    with pytest.raises(ConfigError, match="string"):
        augment_with_counterfactuals(tiny_dataset(), swap=lambda text: None)


def test_cda_fine_tune_trains_on_the_augmented_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """fine_tune itself is tested elsewhere; here: what cda_fine_tune hands it, and what it returns."""
    seen = {}

    def fake_fine_tune(model_name: str, dataset: DatasetDict, **options: object) -> labkit.finetune.FineTuneResult:
        seen.update(model=model_name, train=dataset["train"]["text"], test=dataset["test"]["text"], options=options)
        return labkit.finetune.FineTuneResult("tiny-bert", None, None, ["negative", "positive"], pd.DataFrame(),
                                              pd.DataFrame(), 1, 1, 0.0, 0.0, {"seed": 0})

    monkeypatch.setattr(labkit.finetune, "fine_tune", fake_fine_tune)
    result, counts = cda_fine_tune("tiny-bert", tiny_dataset(), epochs=1)
    assert seen["model"] == "tiny-bert" and seen["options"] == {"text_column": "text", "epochs": 1}
    assert len(seen["train"]) == 7 and seen["test"] == ["Her film is dull."]
    assert result.name == "tiny-bert-cda" and counts.changed == 3
    assert result.config == {"seed": 0, "counterfactual_augmentation": {"original": 4, "added": 3}}
    # train_limit samples the originals first (as fine_tune would), then adds their counterfactuals
    expected = labkit.finetune.limit_training_set(tiny_dataset(), 2, seed=5)["train"]["text"]
    _, counts = cda_fine_tune("tiny-bert", tiny_dataset(), train_limit=2, seed=5)
    assert "train_limit" not in seen["options"] and seen["train"][:2] == expected
    assert counts.original == 2 and len(seen["train"]) == 2 + counts.changed


# ---------------------------------------------------------------------------------------- MiniLM smoke test

def test_minilm_gender_direction_and_projection_smoke() -> None:
    """One real run on MiniLM (offline, a few seconds): the definitional pairs give a dominant direction,
    and after projecting it out the pairs' differences have no component along it."""
    import torch

    from labkit.bias.weat import sentence_embeddings
    from labkit.models import load

    torch.manual_seed(0)
    tokenizer, model = load("minilm-l6")
    table = definitional_sentences()
    female = sentence_embeddings(tokenizer, model, table["female"].tolist())
    male = sentence_embeddings(tokenizer, model, table["male"].tolist())
    found = gender_direction(female, male)
    assert found.direction.shape == (384,)
    assert found.explained_variance_ratio[0] > 2 * found.explained_variance_ratio[1]
    assert np.all((female - male) @ found.direction > 0)  # every pair's difference leans the same way
    np.testing.assert_allclose(project_out(female - male, found.direction) @ found.direction, 0.0, atol=1e-10)
