"""Tokens per second of the kit's BERT pretraining step vs a plain ``transformers.BertForPreTraining`` step.

    python benchmarks/pretrain_throughput.py [--quick] [--preset tiny-bert] [--threads N]

Both variants train the same model shape on the same NSP instances from the corpus, with the same batch
size and optimizer (AdamW, one forward + backward + step per call):

* plain: ``BertForPreTraining(**batch, labels=..., next_sentence_label=...)`` (its default attention) on
  batches in random order padded to the maximum length, the usual collator recipe; the vocabulary
  projection is computed at every position;
* ours: ``labkit.pretraining.BertPretrainingObjective`` (vocabulary projection only at the masked
  positions, SDPA attention with no mask when a batch has no padding) on length-bucketed batches.

The two are timed interleaved in the same process (machines are shared and noisy, so only the ratio is
meaningful). Throughput counts real tokens (padding excluded). Achieved FLOP/s is the useful work of our
step (forward + backward of the encoder, the MLM head at the masked positions and NSP; ~3x the forward
FLOPs) divided by its time, as a fraction of the machine's fp32 matmul peak measured in the same run.
Nothing is asserted: this prints figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch


def matmul_peak(threads: int, size: int = 1024, repeats: int = 10) -> float:
    """fp32 FLOP/s of a square matmul (best of ``repeats``)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def step_flops(config, tokens: int, sequences: int, length: int, masked: int, vocab: int) -> float:
    """Forward+backward FLOPs (3x forward) of one step of our objective."""
    hidden, inter, layers = config.hidden_size, config.intermediate_size, config.num_layers
    per_token_layer = 2 * (4 * hidden * hidden + 2 * hidden * inter)  # Q, K, V, O and the feed-forward
    attention = 2 * 2 * length * hidden  # scores and weighted sum, per token per layer
    encoder = tokens * layers * (per_token_layer + attention)
    head = masked * 2 * (hidden * hidden + hidden * vocab) + sequences * 2 * (hidden * hidden + 2 * hidden)
    return 3.0 * (encoder + head)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny-bert")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    parser.add_argument("--threads", type=int, default=None)
    arguments = parser.parse_args()

    from labkit import pretraining
    from labkit.data import load_corpus
    from labkit.evaluation import count_parameters

    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    threads = torch.get_num_threads()
    config = pretraining.get_preset(arguments.preset)
    corpus = load_corpus()
    texts = corpus["train"]["text"][:: 4 if arguments.quick else 2]
    tokenizer = pretraining.train_wordpiece_tokenizer(texts, vocab_size=config.vocab_size)
    data = pretraining.BertData(tokenizer, texts, [], config)
    instances = data._instances if data.epoch_plan(0) else []
    bucketed = data.epoch_plan(0)
    rng = random.Random(0)
    shuffled = list(range(len(instances)))
    rng.shuffle(shuffled)
    plain_batches = [shuffled[i : i + config.batch_size] for i in range(0, len(shuffled) - config.batch_size + 1,
                                                                         config.batch_size)]

    def make_batch(indices, step):
        batch = data.batch([instances[i] for i in indices], torch.Generator().manual_seed(step))
        return batch

    def pad_to(batch, length):
        extra = length - batch["input_ids"].shape[1]
        if extra <= 0:
            return batch
        pad = {"input_ids": tokenizer.pad_token_id, "token_type_ids": 0, "attention_mask": 0, "labels": -100}
        out = dict(batch)
        for key, value in pad.items():
            out[key] = torch.cat([batch[key], torch.full((batch[key].shape[0], extra), value)], dim=1)
        return out

    plain_model = pretraining.build_model(config, tokenizer)
    our_model = pretraining.build_model(config, tokenizer)
    plain_model.train()
    our_model.train()
    objective = pretraining.BertPretrainingObjective(our_model)
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=1e-4)
                  for name, model in (("plain", plain_model), ("ours", our_model))}

    def run_plain(step):
        batch = pad_to(make_batch(plain_batches[step % len(plain_batches)], step), config.max_length)
        start = time.perf_counter()
        loss = plain_model(**batch).loss
        loss.backward()
        optimizers["plain"].step()
        optimizers["plain"].zero_grad(set_to_none=True)
        return time.perf_counter() - start, int(batch["attention_mask"].sum()), None

    def run_ours(step):
        batch = make_batch(bucketed[step % len(bucketed)], step)
        start = time.perf_counter()
        out = objective(**batch)
        out["loss"].backward()
        optimizers["ours"].step()
        optimizers["ours"].zero_grad(set_to_none=True)
        seconds = time.perf_counter() - start
        shape = batch["input_ids"].shape
        flops = step_flops(config, int(batch["attention_mask"].sum()), shape[0], shape[1],
                           int(out["mlm_labels"].numel()), len(tokenizer))
        return seconds, int(batch["attention_mask"].sum()), flops

    rounds = 6 if arguments.quick else 20
    for step in range(2):  # warm-up
        run_plain(step)
        run_ours(step)
    results = {"plain": [], "ours": []}
    for step in range(rounds):
        results["plain"].append(run_plain(step))
        results["ours"].append(run_ours(step))
    peak = matmul_peak(threads)

    def tokens_per_second(rows):
        return statistics.median(tokens / seconds for seconds, tokens, _ in rows)

    plain_tps, our_tps = tokens_per_second(results["plain"]), tokens_per_second(results["ours"])
    achieved = statistics.median(flops / seconds for seconds, _, flops in results["ours"])
    print(f"preset {config.name}: {count_parameters(our_model).total:,} parameters, batch {config.batch_size} "
          f"x up to {config.max_length} tokens, {threads} thread(s), {rounds} interleaved rounds")
    print(f"plain BertForPreTraining step : {plain_tps:9,.0f} tokens/s")
    print(f"labkit pretraining step       : {our_tps:9,.0f} tokens/s")
    print(f"speed-up (ours / plain)       : {our_tps / plain_tps:9.2f}x   (target >= 1.5x)")
    print(f"matmul peak (fp32, 1024^2)    : {peak / 1e9:9.1f} GFLOP/s")
    print(f"achieved by our step          : {achieved / 1e9:9.1f} GFLOP/s = {achieved / peak:.0%} of peak")


if __name__ == "__main__":
    main()
