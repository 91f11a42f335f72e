"""Fine-tuning a pretrained model for text classification, and a classical baseline beside it.

The five steps, as ``fine_tune`` runs them:

1. choose a pretrained model (a registered name such as ``"tiny-bert"`` or ``"minilm-l6"``);
2. load its weights (or, with ``initialisation="random"``, the same architecture untrained);
3. add a task head (``AutoModelForSequenceClassification``: a linear layer on the ``[CLS]`` vector);
4. train on labelled data (AdamW, linear warmup and decay, gradient clipping, early stopping on the
   validation split, seeded);
5. evaluate on the held-out test split (predictions with class probabilities).

``tfidf_logistic_regression`` returns the same ``FineTuneResult`` for a TF-IDF + logistic regression
pipeline (scikit-learn), so the two can be compared on the same splits.

The package, one concept per file:

- ``recipe``       ``FineTuneRecipe`` (how a run trains) and the kit's recipes per model
- ``preparation``  dataset checks, label ids, tokenisation (``check_dataset``, ``tokenize_splits``)
- ``classifier``   steps 1-3 and prediction (``load_classifier``, ``predict_proba``, ``FineTuneResult``)
- ``training``     steps 4-5 (``fine_tune``, resumable through ``TrainingState``)
- ``lora``         parameter-efficient fine-tuning: LoRA adapters (``LoraSettings``, ``add_lora``)
- ``baseline``     TF-IDF + logistic regression
- ``probing``      linear probes on frozen features
"""

from labkit.errors import DatasetError
from labkit.finetune.baseline import BASELINE_NAME, tfidf_logistic_regression, tfidf_pipeline
from labkit.finetune.classifier import FineTuneResult, freeze_encoder, load_classifier, predict_proba
from labkit.finetune.lora import LoraSettings, add_lora, load_with_adapter, merged_copy, save_adapter
from labkit.finetune.preparation import (
                                         TruncationWarning,
                                         check_dataset,
                                         count_truncated,
                                         label_ids,
                                         limit_training_set,
                                         tokenize_splits,
)
from labkit.finetune.probing import linear_probe, mean_pooled_features, word_coverage
from labkit.finetune.recipe import (
    FROZEN_LEARNING_RATE,
    LORA_RECIPES,
    RANDOM_INIT_RECIPES,
    RECIPES,
    FineTuneRecipe,
    recipe_for,
)
from labkit.finetune.training import TrainingState, fine_tune

__all__ = [
    "BASELINE_NAME", "DatasetError", "FROZEN_LEARNING_RATE", "FineTuneRecipe", "FineTuneResult", "LORA_RECIPES",
    "LoraSettings", "RANDOM_INIT_RECIPES", "RECIPES", "TrainingState", "TruncationWarning", "add_lora",
    "check_dataset", "count_truncated", "fine_tune", "freeze_encoder", "label_ids", "limit_training_set",
    "linear_probe", "load_classifier", "load_with_adapter", "mean_pooled_features", "merged_copy",
    "predict_proba", "recipe_for", "save_adapter", "tfidf_logistic_regression", "tfidf_pipeline",
    "tokenize_splits", "word_coverage",
]
