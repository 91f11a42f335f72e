"""The registry of figures (``FIGURES``: ``"NN-topic"`` -> a function returning a ``Figure``) and their export."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from matplotlib.figure import Figure

from labkit import viz
from labkit.errors import ConfigError

FIGURES: dict[str, Callable[[], Figure]] = {}


def figure(name: str) -> Callable[[Callable[[], Figure]], Callable[[], Figure]]:
    """Register a builder under ``name`` (``"NN-topic"``)."""
    def register(build: Callable[[], Figure]) -> Callable[[], Figure]:
        FIGURES[name] = build
        return build
    return register


def export_figures(out_dir: Path | str, *, dpi: int = 200, names: Iterable[str] | None = None,
                   progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write every figure (or those in ``names``) as PNG and SVG into ``out_dir``; return the files written."""
    if dpi < 30 or dpi > 1200:
        raise ConfigError(f"--dpi {dpi} is not a sensible resolution: choose 30 to 1200 (slides: 150-300)")
    chosen = list(FIGURES) if names is None else list(names)
    unknown = [name for name in chosen if name not in FIGURES]
    if unknown:
        raise ConfigError(f"unknown figure(s) {', '.join(unknown)}; `labkit figures --list` names them all")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in chosen:
        with viz.kit_style():
            built = FIGURES[name]()
            for suffix in ("png", "svg"):
                path = out_dir / f"{name}.{suffix}"
                built.savefig(path, dpi=dpi)
                written.append(path)
        if progress is not None:
            progress(name)
    return written
