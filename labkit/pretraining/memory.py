"""Keeping a long training run's memory flat on Linux (glibc's allocator and tensors of changing size)."""

from __future__ import annotations

import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD_BYTES = 64 * 1024


def limit_heap_fragmentation() -> bool:
    """Keep a long training run's memory flat on Linux (glibc); return True if the setting was applied.

    Every MLM step allocates tensors of a new size (the number of masked positions varies), tens of MB
    each. glibc raises its mmap threshold after the first such block is freed, and from then on serves
    them from heap arenas that fragment and never shrink: a tiny-bert run grew by about 10 MB per step
    (12 GB after an hour). Pinning the threshold at 64 KB sends large blocks to mmap, which returns them
    to the system when freed (measured: flat at about 1 GB). Elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
