"""Write README's "Launch on Binder" badge from the repository's URL.

    python binder/badge.py                                   # from this clone's `origin` remote
    python binder/badge.py https://github.com/OWNER/REPO     # from a URL given by hand
    python binder/badge.py --check                           # exit 1 if README's badge is not the one built

mybinder.org builds a GitHub repository from its owner, name and branch, and opens the path given in
``urlpath``; the badge opens the student copy of the first notebook, so learners start on the exercise
versions. README keeps the badge between the markers ``<!-- binder-badge -->`` and ``<!-- /binder-badge -->``;
this script rewrites what is between them. Until the repository has a GitHub remote, README's badge points at
``OWNER/REPO``: run this once after the first push.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

README = Path(__file__).resolve().parent.parent / "README.md"
BRANCH = "main"
FIRST_NOTEBOOK = "notebooks/student/00_welcome.ipynb"
PLACEHOLDER = "https://github.com/OWNER/REPO"
BEGIN, END = "<!-- binder-badge -->", "<!-- /binder-badge -->"
_GITHUB = re.compile(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)"
                     r"(?P<owner>[A-Za-z0-9-]+)/(?P<name>[A-Za-z0-9._-]+?)(?:\.git)?/?$")


def owner_and_name(repository_url: str) -> tuple[str, str]:
    """``("OWNER", "REPO")`` from a GitHub URL (https or ssh, with or without ``.git``); ValueError otherwise."""
    match = _GITHUB.match(repository_url.strip())
    if not match:
        raise ValueError(f"{repository_url!r} is not a GitHub repository URL (https://github.com/OWNER/REPO or "
                         "git@github.com:OWNER/REPO.git); mybinder.org's badge here is made for GitHub")
    return match.group("owner"), match.group("name")


def binder_url(repository_url: str, branch: str = BRANCH, path: str = FIRST_NOTEBOOK) -> str:
    """The mybinder.org link that builds ``repository_url`` at ``branch`` and opens ``path`` in JupyterLab."""
    owner, name = owner_and_name(repository_url)
    return f"https://mybinder.org/v2/gh/{owner}/{name}/{branch}?urlpath={quote('lab/tree/' + path, safe='')}"


def badge(repository_url: str) -> str:
    """The badge's markdown (mybinder.org's own badge image)."""
    return f"[![Launch on Binder](https://mybinder.org/badge_logo.svg)]({binder_url(repository_url)})"


def readme_badge(text: str) -> str:
    """What README holds between the badge markers."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"README.md must hold the badge between one {BEGIN} and one {END}")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def origin_url() -> str:
    """This clone's ``origin`` remote, or a clear error when it has none."""
    result = subprocess.run(["git", "remote", "get-url", "origin"], capture_output=True, text=True,
                            cwd=README.parent, check=False)
    if result.returncode != 0:
        raise ValueError("this clone has no `origin` remote: give the repository's URL, "
                         "python binder/badge.py https://github.com/OWNER/REPO")
    return result.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", nargs="?", help="the repository's GitHub URL (default: the origin remote)")
    parser.add_argument("--check", action="store_true", help="check README's badge against its own link's repository")
    arguments = parser.parse_args(argv)
    try:
        text = README.read_text(encoding="utf-8")
        if arguments.check:
            current = readme_badge(text)
            found = re.search(r"/v2/gh/([^/]+)/([^/]+)/", current)
            expected = badge(f"https://github.com/{found.group(1)}/{found.group(2)}") if found else None
            print("README's badge is " + ("as built" if current == expected else f"not as built: {current}"))
            return 0 if current == expected else 1
        readme_badge(text)  # the markers are there
        made = badge(arguments.repository or origin_url())
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    before, rest = text.split(BEGIN, 1)
    README.write_text(before + BEGIN + "\n" + made + "\n" + END + rest.split(END, 1)[1], encoding="utf-8")
    print(made)
    return 0


if __name__ == "__main__":
    sys.exit(main())
