"""How much faster are the int8 models than the float ones, and the student than the teacher?

    python benchmarks/compression.py [--texts 128] [--rounds 3] [--threads 1]

Times four sentiment classifiers on the same movie test snippets at batch 1 and batch 32, in interleaved
rounds in one process (`labkit.compression.quantisation.compare_latency`, which calls
`labkit.evaluation.latency_table`): the teacher `minilm-l6-sentiment` in float32 and dynamically quantised
to int8, and `tiny-bert-sentiment` in float32 and int8. tiny-bert-sentiment has the architecture of the
distilled student (`tiny-bert-distilled` in data/results/compress-sentiment; its weights are not shipped, and
inference cost does not depend on the weights), so float tiny-bert / float MiniLM is the student-vs-teacher
ratio. Prints the median per-example time of each, then the ratios int8 / float (< 1: int8 is faster) and
student / teacher. Not a test: absolute times depend on the machine and its load; compare the ratios.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=128, help="test snippets timed per round (>= 32)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each number is their median")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while timing")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    from labkit import data, finetune, seed_everything
    from labkit.compression import quantisation
    from labkit.models import load

    seed_everything(0)
    texts = list(data.load_sentiment("movies")["test"]["text"])[:arguments.texts]
    predictors = {}
    for short, name in (("teacher", "minilm-l6-sentiment"), ("student", "tiny-bert-sentiment")):
        tokenizer, model = load(name, task="sequence-classification")
        predictors[f"{short} float32"] = partial(finetune.predict_proba, model, tokenizer, max_length=64)
        predictors[f"{short} int8"] = partial(finetune.predict_proba, quantisation.quantise_dynamic(model), tokenizer,
                                              max_length=64)
    print(f"{len(texts)} movie test snippets (max 64 tokens), batch 1 and 32, {arguments.rounds} interleaved rounds, "
          f"{arguments.threads} thread(s), torch {torch.__version__}")
    table = quantisation.compare_latency(predictors, texts, batch_sizes=(1, 32), rounds=arguments.rounds)
    per_example = table.set_index(["model", "batch_size"])["per_example_ms_p50"]
    for (model, batch), milliseconds in per_example.items():
        print(f"{model:16s} batch {batch:2d}: {milliseconds:8.2f} ms per example (median)")
    for batch in (1, 32):
        teacher_ratio = per_example[("teacher int8", batch)] / per_example[("teacher float32", batch)]
        student_ratio = per_example[("student int8", batch)] / per_example[("student float32", batch)]
        distilled = per_example[("student float32", batch)] / per_example[("teacher float32", batch)]
        print(f"batch {batch:2d}: int8 / float32  MiniLM x{teacher_ratio:.2f}, tiny-bert x{student_ratio:.2f};  "
              f"student / teacher (float32) x{distilled:.3f} (teacher {1 / distilled:.1f}x slower)")


if __name__ == "__main__":
    main()
