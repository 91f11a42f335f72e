"""Our attention and encoder against PyTorch's fused SDPA kernel and transformers' BertModel.

    python benchmarks/attention_benchmark.py [--quick]

Prints, for the same inputs in the same run:

* time ratio: ours / baseline (median of several runs; > 1 means ours is slower);
* peak memory: the rise of the process's peak RSS during one call, measured in a fresh subprocess per
  variant (so one variant's peak does not hide another's).

This is a measurement, not a test: nothing is asserted about time. Shared, noisy machines give different
absolute times from run to run; the ratios are what to compare. Our versions also return attention
weights, which forces them to materialise every (L x L) score matrix; the fused kernel never does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

HEADS, HEAD_DIM = 12, 32  # MiniLM's shape


# ------------------------------------------------------------------------------------------------
# variants (each builds its inputs, returns a zero-argument callable)
# ------------------------------------------------------------------------------------------------


def attention_variant(name: str, batch: int, length: int) -> Callable[[], object]:
    import torch.nn.functional as F

    from labkit import attention

    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(batch, HEADS, length, HEAD_DIM, generator=generator) for _ in range(3))
    lengths = torch.full((batch,), length)
    lengths[-1] = length * 3 // 4  # some padding
    mask = attention.padding_mask((torch.arange(length)[None] < lengths[:, None]).long())
    if name == "ours":
        return lambda: attention.scaled_dot_product_attention(q, k, v, mask)
    if name == "torch-sdpa":
        return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    raise ValueError(name)


def encoder_variant(name: str, batch: int, length: int) -> Callable[[], object]:
    from labkit import attention, data, models

    implementation = "sdpa" if name == "transformers-sdpa" else "eager"
    tokenizer, model = models.load("minilm-l6", attn_implementation=implementation)
    texts = [text for text in data.load_sentiment()["train"]["text"][: batch * 20] if len(text.split()) > 8]
    texts = texts[:batch]
    inputs = tokenizer(texts, padding="max_length", truncation=True, max_length=length, return_tensors="pt")
    if name == "ours":
        encoder = attention.from_hf(model)
        del model
        return lambda: encoder(**inputs)
    if name == "transformers-eager":
        return lambda: model(**inputs, output_attentions=True)
    if name == "transformers-sdpa":
        return lambda: model(**inputs)
    raise ValueError(name)


VARIANTS = {"attention": attention_variant, "encoder": encoder_variant}


def _peak_rss_bytes() -> int:
    """The process's peak RSS (VmHWM on Linux; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_memory_child(kind: str, name: str, batch: int, length: int) -> None:
    """Run in a subprocess: print the rise of peak RSS (MiB) during one call."""
    import psutil

    torch.set_grad_enabled(False)
    function = VARIANTS[kind](name, batch, length)
    before = psutil.Process().memory_info().rss
    try:  # reset the peak-RSS mark, so that loading the model does not count (Linux only)
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass
    function()
    print(json.dumps({"peak_rise_mib": max(0, _peak_rss_bytes() - before) / 2**20}))


def peak_memory(kind: str, name: str, batch: int, length: int) -> float:
    result = subprocess.run(
        [sys.executable, __file__, "--child", kind, name, str(batch), str(length)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_rise_mib"]


def compare(kind: str, baseline: str, others: list[str], batch: int, length: int, repeats: int) -> None:
    """Time the variants interleaved (round-robin), so that load changes on a shared machine hit all alike."""
    names = [baseline, *others]
    samples: dict[str, list[float]] = {name: [] for name in names}
    with torch.no_grad():
        functions = {name: VARIANTS[kind](name, batch, length) for name in names}
        for function in functions.values():
            function()  # warm-up
        for _ in range(repeats):
            for name, function in functions.items():
                start = time.perf_counter()
                function()
                samples[name].append(time.perf_counter() - start)
        del functions
    times = {name: statistics.median(values) for name, values in samples.items()}
    memory = {name: peak_memory(kind, name, batch, length) for name in names}
    for name in [baseline, *others]:
        ratio = times[name] / times[baseline]
        print(f"{kind:9s} B={batch:<2d} L={length:<5d} {name:19s} time x{ratio:5.2f} of {baseline:17s} "
              f"({times[name] * 1e3:8.2f} ms)   peak memory rise {memory[name]:7.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer lengths and repeats")
    parser.add_argument("--only", choices=sorted(VARIANTS), help="run only the attention or the encoder part")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        kind, name, batch, length = arguments.child
        peak_memory_child(kind, name, int(batch), int(length))
        return
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; ratios are ours / baseline, same run\n")
    repeats = 3 if arguments.quick else 7
    if arguments.only in (None, "attention"):
        for length in ([128, 1024] if arguments.quick else [128, 512, 1024, 2048]):
            compare("attention", "torch-sdpa", ["ours"], batch=1, length=length, repeats=repeats)
        print()
    if arguments.only in (None, "encoder"):
        for length in ([32, 128] if arguments.quick else [32, 128, 512]):
            compare("encoder", "transformers-sdpa", ["transformers-eager", "ours"], batch=8, length=length,
                    repeats=repeats)


if __name__ == "__main__":
    main()
