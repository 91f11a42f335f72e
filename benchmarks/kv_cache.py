"""How much faster is tiny-gpt's generation with the key/value cache than without it?

    python benchmarks/kv_cache.py [--lengths 32 64 128] [--repeats 7] [--threads 1]

Prints, for each total length (prompt included; 128 is tiny-gpt's training length), the median time of greedy
`generate(use_cache=True)` and of the baseline `generate(use_cache=False)`, measured in the same run in
alternating pairs, and the median over the pairs of their ratio uncached / cached (> 1: the cache is faster),
with every pair's ratio so the spread is visible. It is the measurement notebook 04 makes (with more repeats),
through the same function, `labkit.decoding.kv_cache_speedup`. Not a test: absolute times depend on the machine
and its load; compare the ratios.
"""

from __future__ import annotations

import argparse

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[32, 64, 128],
                        help="total tokens per generated sequence, prompt included")
    parser.add_argument("--repeats", type=int, default=7, help="timed pairs per length")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while timing")
    arguments = parser.parse_args()

    from transformers.utils import logging as transformers_logging

    from labkit import decoding, seed_everything
    from labkit.models import load

    transformers_logging.set_verbosity_error()
    seed_everything(0)
    tokenizer, model = load("tiny-gpt", task="causal-lm")
    prompt = tokenizer("The state of the Union", return_tensors="pt")["input_ids"]
    print(f"tiny-gpt, greedy generation from a {prompt.shape[1]}-token prompt, {arguments.threads} thread(s), "
          f"{arguments.repeats} pairs per length (torch {torch.__version__})")
    results = decoding.kv_cache_speedup(model, prompt, lengths=arguments.lengths, repeats=arguments.repeats,
                                        threads=arguments.threads)
    for result in results:
        pairs = ", ".join(f"{ratio:.2f}" for ratio in result.ratios)
        print(f"length {result.length:4d}: use_cache=True {result.cached_seconds * 1e3:8.1f} ms, "
              f"use_cache=False {result.uncached_seconds * 1e3:8.1f} ms, speed-up x{result.speedup:5.2f} "
              f"(pairs: {pairs}); same tokens: {'yes' if result.identical else 'NO'}")


if __name__ == "__main__":
    main()
