"""bertviz's head and model views as one self-contained HTML page: no CDN, no require.js, no network.

bertviz (1.4.1) returns HTML that loads require.js from a CDN, and its JavaScript asks require.js for
jQuery and d3 from the same CDN; offline the page shows nothing but "require is not defined". A link
to files shipped with the kit would not help either: a relative URL resolves against JupyterLab's (or
Binder's) own address, not against the kit's folder. So the functions here take the HTML bertviz
returns (``html_action="return"``) and rewrite it into one piece of HTML with everything inside:

* jQuery and d3, the two libraries bertviz's code uses, are inlined from ``labkit/viz/vendor/``
  (copied from their npm packages; versions, licences and SHA-256 in ``vendor/vendor.json``), each
  run in a private scope so they touch no global name (the notebook's own jQuery, if any, is left alone);
* bertviz's ``require.config(...)`` / ``requirejs(['jquery', 'd3'], callback)`` is replaced by a direct
  call ``callback(jQuery, d3)``: with the libraries already in hand no module loader is needed, so the
  view works the same whether the page has require.js (classic Notebook) or not (JupyterLab);
* the attention data bertviz writes into its script is kept once (bertviz writes it twice, once in a
  comment) and its ``<``, ``>``, ``&`` are written as JSON escapes, so a token such as ``</script>``
  cannot end the script early.

Attentions are what a model loaded with ``attn_implementation="eager"`` returns with
``output_attentions=True`` for one text: a tuple of ``num_layers`` tensors ``(1, heads, seq, seq)``,
or the same stacked as ``(layers, heads, seq, seq)`` (tensor or array). Both functions return an
``HTMLText`` (a ``str``; as a notebook cell's value it shows the view) of about 340 KB, most of it the
two libraries. ``tests/browser/check_bertviz_views.py`` opens the pages in headless Chromium with no
network and checks they draw.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from labkit.viz.tokens import HTMLText

VENDOR = Path(__file__).resolve().parent / "vendor"

# bertviz's template asks require.js for the two libraries; this is the piece replaced by a direct call.
_LOADER = re.compile(r"require\.config\(\{.*?\}\);\s*"
                     r"requirejs\(\[\s*'jquery',\s*'d3'\s*\],\s*function\s*\(\$,\s*d3\)\s*\{", re.DOTALL)
_DIRECT_CALL = "(function (draw) { draw(labkitJQuery, labkitD3); })(function ($, d3) {"
_SCRIPT_OPEN = '\n<script type="text/javascript">\n'
_SCRIPT_CLOSE = "\n</script>\n"
_MARKER = "PYTHON_PARAMS"


def vendored_scripts() -> dict[str, dict[str, str]]:
    """The JavaScript libraries shipped in ``labkit/viz/vendor/``: name -> package, version, licence, sha256.

    Each file's SHA-256 is checked against ``vendor.json``, so a damaged or missing copy fails here with
    a clear message rather than as a blank view in the browser.
    """
    return dict(_checked_vendor())


@functools.cache
def _checked_vendor() -> tuple[tuple[str, dict[str, str]], ...]:
    index = VENDOR / "vendor.json"
    if not index.is_file():
        raise FileNotFoundError(f"{index} is missing: labkit was installed without its package data")
    entries = json.loads(index.read_text(encoding="utf-8"))
    for name, entry in entries.items():
        path = VENDOR / entry["file"]
        if not path.is_file():
            raise FileNotFoundError(f"{path} ({name} {entry['version']}) is missing from labkit/viz/vendor/")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != entry["sha256"]:
            raise ValueError(f"{path} has SHA-256 {digest}, but vendor.json records {entry['sha256']}")
    return tuple(entries.items())


@functools.cache
def _library_source(name: str) -> str:
    """One vendored library, wrapped so it runs in its own scope and defines no global name.

    Both libraries are UMD bundles: seeing a CommonJS ``module`` they put their API into
    ``module.exports`` instead of ``window`` (and, seeing no ``define``, never call an AMD loader).
    """
    entry = dict(_checked_vendor())[name]
    code = (VENDOR / entry["file"]).read_text(encoding="utf-8")
    if re.search(r"</script|<!--", code, re.IGNORECASE):
        raise ValueError(f"{entry['file']} contains '</script' or '<!--' and cannot be inlined in a <script>")
    return (f"/* {entry['package']} {entry['version']} ({entry['licence']}), inlined by labkit.viz */\n"
            "(function () {\n"
            "var module = {exports: {}}, exports = module.exports, define = undefined;\n"
            f"{code}\n"
            ";return module.exports;\n"
            "}).call(window)")


def _bertviz_template(view: str) -> str:
    """The JavaScript file bertviz fills in for ``view`` ("head_view" or "model_view")."""
    import bertviz

    return (Path(bertviz.__file__).parent / f"{view}.js").read_text(encoding="utf-8")


def _split_bertviz_html(html: str, view: str) -> tuple[str, dict]:
    """bertviz's returned HTML as (the view's ``<div>`` markup, the parameters it filled into its template).

    bertviz returns ``<script src=require.js>`` + the markup + ``<script>`` its template with every
    ``PYTHON_PARAMS`` replaced by the same JSON. Anything else means bertviz changed: say so.
    """
    changed = f"bertviz's {view} HTML is not laid out as bertviz 1.4.1 lays it out; labkit.viz.bertviz_offline " \
              "needs updating for this bertviz version"
    start = html.find(_SCRIPT_OPEN)
    if not html.startswith("<script src=") or start < 0 or not html.endswith(_SCRIPT_CLOSE):
        raise RuntimeError(changed)
    markup = html[html.index("</script>") + len("</script>"):start]
    body = html[start + len(_SCRIPT_OPEN):-len(_SCRIPT_CLOSE)]
    parts = _bertviz_template(view).split(_MARKER)
    filled = len(body) - sum(len(part) for part in parts)
    markers = len(parts) - 1
    if markers < 1 or filled % markers:
        raise RuntimeError(changed)
    data = body[len(parts[0]):len(parts[0]) + filled // markers]
    if body != data.join(parts):
        raise RuntimeError(changed)
    return markup, json.loads(data)


def _script_safe_json(value: object) -> str:
    """JSON that cannot end or comment out the ``<script>`` it sits in (``<``, ``>``, ``&`` escaped)."""
    text = json.dumps(value)  # ensure_ascii: U+2028 / U+2029 come out escaped too
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _self_contained(html: str, view: str) -> str:
    """bertviz's HTML for ``view`` with jQuery and d3 inlined and no loader or remote URL left."""
    from importlib.metadata import version

    markup, params = _split_bertviz_html(html, view)
    parts = _bertviz_template(view).split(_MARKER)
    code = parts[0] + _script_safe_json(params) + _MARKER.join(parts[1:])  # the data once, not in the comment too
    code, replaced = _LOADER.subn(lambda _: _DIRECT_CALL, code, count=1)
    if replaced != 1:
        raise RuntimeError(f"bertviz's {view}.js no longer loads jQuery and d3 with requirejs(['jquery', 'd3'], ...); "
                           "labkit.viz.bertviz_offline needs updating for this bertviz version")
    libraries = {name: f"{entry['package']} {entry['version']} ({entry['licence']})"
                 for name, entry in vendored_scripts().items()}
    note = (f"<!-- bertviz {version('bertviz')} {view.replace('_', ' ')}, made self-contained by "
            f"labkit.viz: {', '.join(libraries.values())} inlined, no module loader, nothing fetched -->")
    script = (f"{_SCRIPT_OPEN}(function () {{\n"
              f"var labkitJQuery = {_library_source('jquery')};\n"
              f"var labkitD3 = {_library_source('d3')};\n"
              f"{code}\n}})();{_SCRIPT_CLOSE}")
    return note + markup + script


def _attention_layers(attentions: object, tokens: Sequence[str], decimals: int) -> tuple[object, ...]:
    """Attentions as bertviz wants them: a tuple of float64 tensors ``(1, heads, seq, seq)``, rounded.

    Accepts a tuple/list of per-layer ``(1, heads, seq, seq)`` or ``(heads, seq, seq)`` tensors or
    arrays, or one stacked ``(layers, heads, seq, seq)`` array; checks shapes against ``tokens``.
    """
    import torch

    def as_array(values: object) -> np.ndarray:
        if hasattr(values, "detach"):
            values = values.detach().to(torch.float64).cpu().numpy()
        return np.asarray(values, dtype=np.float64)

    if isinstance(attentions, (tuple, list)):
        if not attentions:
            raise ValueError("attentions is empty: pass one (1, heads, seq, seq) tensor per layer")
        layers = [as_array(layer) for layer in attentions]
        batches = {layer.shape[0] for layer in layers if layer.ndim == 4}
        if batches - {1}:
            raise ValueError(f"bertviz shows one text at a time, but the attentions have batch size {max(batches)}: "
                             "pass attentions for one example, e.g. [layer[i:i + 1] for layer in attentions]")
        layers = [layer[0] if layer.ndim == 4 else layer for layer in layers]
        if len({layer.shape for layer in layers}) != 1:
            shapes = [layer.shape for layer in layers]
            raise ValueError(f"every layer's attention must have the same shape, got {shapes}")
        stack = np.stack(layers)
    else:
        stack = as_array(attentions)
    if stack.ndim != 4:
        raise ValueError("attentions must be per-layer (1, heads, seq, seq) tensors or one array (layers, heads, seq, "
                         f"seq), got shape {stack.shape}")
    if stack.shape[-1] != stack.shape[-2]:
        raise ValueError(f"self-attention weights are square (seq, seq), got ({stack.shape[-2]}, {stack.shape[-1]})")
    if len(tokens) != stack.shape[-1]:
        raise ValueError(f"{len(tokens)} tokens for attention over {stack.shape[-1]} positions: pass exactly the "
                         "tokens the model saw (tokenizer.convert_ids_to_tokens of the input ids)")
    if not np.isfinite(stack).all():
        raise ValueError("attentions contain NaN or infinite values")
    rounded = torch.from_numpy(np.round(stack, decimals))
    return tuple(layer.unsqueeze(0) for layer in rounded)


def _as_list(indices: Sequence[int] | None) -> list[int] | None:
    return None if indices is None else [int(index) for index in indices]


def head_view_html(attentions: object, tokens: Sequence[str], *, layer: int | None = None,
                   heads: Sequence[int] | None = None, include_layers: Sequence[int] | None = None,
                   sentence_b_start: int | None = None, decimals: int = 4) -> HTMLText:
    """bertviz's head view (one layer; lines from each token to the tokens it attends to) as self-contained HTML.

    ``attentions``: per layer ``(1, heads, seq, seq)`` (a model's ``output_attentions``) or a stacked
    ``(layers, heads, seq, seq)`` array; ``tokens``: the ``seq`` input tokens. ``layer`` is the layer
    shown first, ``heads`` the heads selected first, ``include_layers`` the layers offered (all by
    default), ``sentence_b_start`` the index of a second sentence's first token. Weights are rounded to
    ``decimals`` places to keep the page small. The HTML fetches nothing (see the module docstring); as a
    notebook cell's value it shows the view.
    """
    import bertviz

    layers = _attention_layers(attentions, tokens, decimals)
    html = bertviz.head_view(attention=layers, tokens=[str(token) for token in tokens],
                             sentence_b_start=sentence_b_start, layer=layer, heads=_as_list(heads),
                             include_layers=_as_list(include_layers), html_action="return")
    return HTMLText(_self_contained(html.data, "head_view"))


def model_view_html(attentions: object, tokens: Sequence[str], *, include_layers: Sequence[int] | None = None,
                    include_heads: Sequence[int] | None = None, sentence_b_start: int | None = None,
                    display_mode: str = "light", decimals: int = 4) -> HTMLText:
    """bertviz's model view (a thumbnail per layer and head; click one to enlarge) as self-contained HTML.

    Same ``attentions`` and ``tokens`` as ``head_view_html``; ``include_layers`` / ``include_heads`` pick
    the rows and columns shown (all by default); ``display_mode`` is ``"light"`` or ``"dark"``.
    """
    import bertviz

    if display_mode not in {"light", "dark"}:
        raise ValueError(f"display_mode is 'light' or 'dark', not {display_mode!r}")
    layers = _attention_layers(attentions, tokens, decimals)
    html = bertviz.model_view(attention=layers, tokens=[str(token) for token in tokens],
                              sentence_b_start=sentence_b_start, display_mode=display_mode,
                              include_layers=_as_list(include_layers), include_heads=_as_list(include_heads),
                              html_action="return")
    return HTMLText(_self_contained(html.data, "model_view"))

