"""Check in a real browser, with no network, that labkit's offline bertviz views draw and respond.

Run from the repository root (takes about a minute on 2 cores):

    python tests/browser/check_bertviz_views.py            # pages and screenshots in a new temp folder
    python tests/browser/check_bertviz_views.py --out DIR  # ... or in DIR

It needs Debian's Chromium (``apt-get install -y chromium``). It writes four pages, made by
``labkit.viz.head_view_html`` / ``model_view_html`` (and the token highlights) for a real tiny-bert
example, opens each in headless Chromium started inside a network namespace with no interfaces
(``unshare --net``; where that is not allowed, with every host name resolving to nothing), and reads a
report that a small probe script on the page writes into the DOM:

* head view: the SVG is drawn, one attention line per (head, query, key) whose opacity is the
  model's weight divided by the number of heads, and choosing another layer in the menu redraws the
  lines with that layer's weights;
* model view: one thumbnail per (layer, head), and clicking one opens bertviz's detail panel;
* the head view again on a page that already has its own ``$``, ``jQuery`` and an AMD ``define`` /
  ``require`` (as the classic Notebook has): it draws all the same, uses neither, and leaves them as they were;
* hostile tokens (``</script><img onerror=...>``, ``<b>``, ``<!--``) show as text in the head view and
  in the token highlights: no ``<img>`` or ``<b>`` element appears and no handler runs;
* on every page: no JavaScript error (so no "require is not defined"), no resource requested, no
  global ``$`` / ``jQuery`` / ``d3`` / ``require`` left behind.

Then it takes a screenshot of each page and prints where they are. Exit status 0 when every check
holds. This script is not collected by pytest (its name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from labkit import viz  # noqa: E402  (after the path is set, so a checkout runs without installing)
from labkit.models import load  # noqa: E402

TEXT = "A gentle, funny film with a plot that never quite works."
HOSTILE = ["[CLS]", '</script><img src=x onerror="window.labkitPwned = true">', "<b>bold</b>", "a&amp;b", "<!--",
           "[SEP]"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars"]

# What a host page such as the classic Notebook may already define: the view must not use or change it.
HOST_GLOBALS = """<script>window.$ = window.jQuery = "host jQuery"; window.labkitDefineCalls = 0;
window.define = function () { window.labkitDefineCalls += 1; }; window.define.amd = {jQuery: true};
window.require = window.requirejs = function () { window.labkitDefineCalls += 1; };</script>
"""

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<script>window.labkitErrors = [];
window.addEventListener("error", function (event) {{ window.labkitErrors.push(String(event.message)); }});</script>
</head><body style="margin: 8px; background: #ffffff">
{body}
<pre id="labkit-report" style="display: none"></pre>
<script>var LABKIT_KIND = "{kind}";
{probe}</script>
</body></html>
"""

PROBE = """
setTimeout(function () {
  var root = document.querySelector('div[id^="bertviz-"]');
  function count(selector) { return root ? root.querySelectorAll(selector).length : 0; }
  function opacities() {
    return Array.prototype.map.call(root.querySelectorAll("#attention line"),
                                    function (line) { return +line.getAttribute("stroke-opacity"); });
  }
  var report = {
    errors: window.labkitErrors, pwned: window.labkitPwned === true,
    globals: {jQuery: typeof window.jQuery, dollar: typeof window.$, d3: typeof window.d3,
              require: typeof window.require},
    svg: count("svg"), line: count("line"), text: count("text"), rect: count("rect"),
    height: document.documentElement.scrollHeight,
    img: document.querySelectorAll("img").length, bold: document.querySelectorAll("b").length,
    bertvizText: root ? root.textContent : "",
    highlightText: Array.prototype.map.call(document.querySelectorAll(".labkit-token-highlight"),
                                            function (element) { return element.textContent; })
  };
  report.hostKept = window.$ === "host jQuery" && window.jQuery === "host jQuery" && window.labkitDefineCalls === 0;
  if ((LABKIT_KIND === "head" || LABKIT_KIND === "host") && root) {
    var select = root.querySelector("#layer");
    report.layerOptions = select.options.length;
    report.opacitiesLayer0 = opacities();
    select.value = "1";
    select.dispatchEvent(new Event("change"));
    report.opacitiesLayer1 = opacities();
  }
  if (LABKIT_KIND === "model" && root) {
    report.thumbnails = count(".attn_background");
    report.detailBefore = count(".detail");
    var regions = Array.prototype.filter.call(root.querySelectorAll("rect"),
                                              function (rect) { return rect.style.opacity === "0"; });
    if (regions.length) { regions[0].dispatchEvent(new MouseEvent("click", {bubbles: true})); }
    report.detailAfter = count(".detail");
  }
  report.resources = performance.getEntriesByType("resource").map(function (entry) { return entry.name; });
  document.getElementById("labkit-report").textContent = JSON.stringify(report);
}, 1500);
"""


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    sys.exit("Chromium is missing: install Debian's package with `apt-get install -y chromium`")


def isolation() -> tuple[list[str], str]:
    """A command prefix that runs Chromium with no network at all, and a sentence saying what it is."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True).returncode == 0:
        return [unshare, "--net"], "inside a network namespace with no interfaces (unshare --net)"
    return [], "without a network namespace (unshare --net is not allowed here); every host name resolves to nothing"


def chromium(prefix: list[str], binary: str, profile: Path, *arguments: str) -> str:
    """Run headless Chromium with a fresh profile and the given arguments; return what it printed."""
    command = [*prefix, binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000",
               *arguments]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise RuntimeError(f"chromium exited with {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout


def tiny_bert_example() -> tuple[tuple[torch.Tensor, ...], list[str]]:
    tokenizer, model = load("tiny-bert", task="sequence-classification", num_labels=2, attn_implementation="eager")
    batch = tokenizer(TEXT, return_tensors="pt")
    with torch.no_grad():
        attentions = model(**batch, output_attentions=True).attentions
    return attentions, tokenizer.convert_ids_to_tokens(batch["input_ids"][0])


def write_pages(folder: Path, attentions: tuple[torch.Tensor, ...], tokens: list[str]) -> dict[str, Path]:
    """The pages: head view, model view, head view on a page with its own jQuery and AMD loader, hostile tokens."""
    generator = torch.Generator().manual_seed(0)
    hostile_attention = tuple(torch.softmax(torch.randn(1, 2, len(HOSTILE), len(HOSTILE), generator=generator), -1)
                              for _ in range(2))
    scores = np.linspace(-1.0, 1.0, len(HOSTILE))
    bodies = {
        "head": viz.head_view_html(attentions, tokens),
        "model": viz.model_view_html(attentions, tokens),
        "host": HOST_GLOBALS + viz.head_view_html(attentions, tokens),
        "hostile": viz.head_view_html(hostile_attention, HOSTILE) + viz.token_highlight_html(HOSTILE, scores)
        + viz.token_highlight_table({"<b>method</b>": (HOSTILE, scores)}),
    }
    pages = {}
    for kind, body in bodies.items():
        pages[kind] = folder / f"{kind}.html"
        pages[kind].write_text(PAGE.format(title=f"labkit bertviz check: {kind}", body=body, kind=kind, probe=PROBE),
                               encoding="utf-8")
        print(f"{kind:8s} page {pages[kind]} ({len(body.encode()) / 1024:.0f} KB of view HTML)")
    return pages


def read_report(dom: str) -> dict:
    match = re.search(r'<pre id="labkit-report"[^>]*>(.*?)</pre>', dom, re.DOTALL)
    if not match or not match[1].strip():
        raise RuntimeError("the probe wrote no report: the page's scripts did not run to the end")
    from html import unescape

    return json.loads(unescape(match[1]))


def check(failures: list[str], condition: bool, what: str) -> None:
    print(f"    {'ok  ' if condition else 'FAIL'} {what}")
    if not condition:
        failures.append(what)


def check_every_page(report: dict, failures: list[str], host: bool = False) -> None:
    check(failures, report["errors"] == [], f"no JavaScript error (errors: {report['errors']})")
    check(failures, report["resources"] == [], f"no resource requested (requested: {report['resources']})")
    if host:
        check(failures, report["hostKept"], "the page's own $, jQuery, define and require were neither called "
                                            "nor replaced")
    else:
        leaked = {name: kind for name, kind in report["globals"].items() if kind != "undefined"}
        check(failures, not leaked, f"no global $ / jQuery / d3 / require left behind (found: {leaked})")
    check(failures, report["svg"] >= 1, f"{report['svg']} <svg>, {report['line']} <line>, {report['text']} <text>, "
                                        f"{report['rect']} <rect> drawn")


def check_head(report: dict, attentions: tuple[torch.Tensor, ...], tokens: list[str], failures: list[str]) -> None:
    layers, heads, seq = len(attentions), attentions[0].shape[1], len(tokens)
    check(failures, report["layerOptions"] == layers, f"layer menu offers {report['layerOptions']} layers")
    check(failures, report["line"] == heads * seq * seq, f"{report['line']} attention lines = heads x seq x seq "
                                                         f"= {heads} x {seq} x {seq}")
    for layer in (0, 1):
        drawn = np.array(report[f"opacitiesLayer{layer}"])
        expected = (attentions[layer][0] / heads).flatten().numpy()  # order: head, query, key
        close = drawn.shape == expected.shape and np.allclose(drawn, expected, atol=1e-4)
        check(failures, close, f"layer {layer}: line opacities = the model's weights / {heads} heads"
                               + (" (after choosing it in the menu)" if layer else ""))
    check(failures, all(token in report["bertvizText"] for token in tokens), "every token is written in the view")


def check_model(report: dict, attentions: tuple[torch.Tensor, ...], failures: list[str]) -> None:
    cells = len(attentions) * attentions[0].shape[1]
    check(failures, report["thumbnails"] == cells, f"{report['thumbnails']} thumbnails = layers x heads = {cells}")
    check(failures, report["detailBefore"] == 0 and report["detailAfter"] > 0,
          f"clicking a thumbnail opens the detail panel ({report['detailAfter']} detail elements)")


def check_hostile(report: dict, failures: list[str]) -> None:
    check(failures, report["img"] == 0 and report["bold"] == 0 and not report["pwned"],
          f"hostile tokens made no element and ran nothing (<img>: {report['img']}, <b>: {report['bold']}, "
          f"onerror ran: {report['pwned']})")
    shown = all(token in report["bertvizText"] for token in HOSTILE)
    highlighted = all(token in text for text in report["highlightText"] for token in HOSTILE)
    check(failures, shown and highlighted and len(report["highlightText"]) == 2,
          "they show as text, character for character, in the head view and in both token highlights")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the pages and screenshots (default: a new temp folder)")
    arguments = parser.parse_args()
    folder = arguments.out or Path(tempfile.mkdtemp(prefix="labkit-bertviz-check-"))
    folder.mkdir(parents=True, exist_ok=True)
    binary = find_chromium()
    prefix, how = isolation()
    print(f"Chromium: {binary}, run {how}")
    attentions, tokens = tiny_bert_example()
    print(f"tiny-bert: {len(attentions)} layers x {attentions[0].shape[1]} heads, {len(tokens)} tokens: {TEXT!r}")
    failures: list[str] = []
    for kind, page in write_pages(folder, attentions, tokens).items():
        print(f"{kind}:")
        report = read_report(chromium(prefix, binary, folder / f"profile-{kind}-dom", "--dump-dom", page.as_uri()))
        check_every_page(report, failures, host=kind == "host")
        if kind in {"head", "host"}:
            check_head(report, attentions, tokens, failures)
        elif kind == "model":
            check_model(report, attentions, failures)
        else:
            check_hostile(report, failures)
        height = int(min(6000, max(600, (report["height"] or 0) + 40)))
        screenshot = folder / f"{kind}.png"
        chromium(prefix, binary, folder / f"profile-{kind}-png", f"--window-size=1100,{height}",
                 f"--screenshot={screenshot}", page.as_uri())
        check(failures, screenshot.is_file() and screenshot.stat().st_size > 10_000, f"screenshot {screenshot}")
    print(f"pages and screenshots in {folder}")
    print("all checks passed" if not failures else f"{len(failures)} check(s) failed: {failures}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
