"""Looking inside a classifier: attention views and feature importance, checked for faithfulness."""

from __future__ import annotations

from labkit.interpret.agreement import (
    SPECIAL_TOKENS,
    agreement_over_texts,
    content_positions,
    explanation_rows,
    kendall_tau,
    spearman_rho,
    summarise_agreement,
)
from labkit.interpret.attention import (
    attention_rollout,
    attention_weights,
    attention_weights_many,
    cls_attention,
    cls_rollout,
    stack_attentions,
)
from labkit.interpret.attribution import (
    METHODS,
    IncompleteAttributionError,
    IncompleteAttributionWarning,
    attribute,
    attribute_many,
)
from labkit.interpret.faithfulness import (
    FRACTIONS,
    FaithfulnessScores,
    RandomFaithfulness,
    deletion_curve,
    faithfulness_per_text,
    faithfulness_scores,
    faithfulness_table,
    model_probabilities,
    random_faithfulness,
    summarise_faithfulness,
    tokens_for_fraction,
)
from labkit.interpret.global_importance import (
    ImportanceComparison,
    compare_importance,
    logistic_regression_importance,
    logistic_regression_weights,
    merge_word_pieces,
    word_importance,
)
from labkit.interpret.sanity import cascading_randomisation, randomisation_order, reinitialise, summarise_sanity
from labkit.interpret.test_set import (
    EXPLANATIONS,
    explain_test_set,
    read_test_set,
    saved_attributions,
    summarise_test_set,
)
from labkit.interpret.token_attribution import TokenAttribution

__all__ = [
    "TokenAttribution",
    # attention.py
    "attention_rollout",
    "attention_weights",
    "attention_weights_many",
    "cls_attention",
    "cls_rollout",
    "stack_attentions",
    # attribution.py
    "METHODS",
    "IncompleteAttributionError",
    "IncompleteAttributionWarning",
    "attribute",
    "attribute_many",
    # agreement.py
    "SPECIAL_TOKENS",
    "agreement_over_texts",
    "content_positions",
    "explanation_rows",
    "kendall_tau",
    "spearman_rho",
    "summarise_agreement",
    # faithfulness.py
    "FRACTIONS",
    "FaithfulnessScores",
    "RandomFaithfulness",
    "deletion_curve",
    "faithfulness_per_text",
    "faithfulness_scores",
    "faithfulness_table",
    "model_probabilities",
    "random_faithfulness",
    "summarise_faithfulness",
    "tokens_for_fraction",
    # sanity.py
    "cascading_randomisation",
    "randomisation_order",
    "reinitialise",
    "summarise_sanity",
    # global_importance.py
    "ImportanceComparison",
    "compare_importance",
    "logistic_regression_importance",
    "logistic_regression_weights",
    "merge_word_pieces",
    "word_importance",
    # test_set.py: the job behind `labkit explain`
    "EXPLANATIONS",
    "explain_test_set",
    "read_test_set",
    "saved_attributions",
    "summarise_test_set",
]
