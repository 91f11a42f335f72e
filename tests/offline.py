"""A pytest plugin (loaded by `-p tests.offline` in pyproject.toml) for every test and notebook run.

* Notebooks and tests must work with no network: the Hub is declared offline for every process the
  suite starts (notebook kernels inherit this environment), and any connection a unit test tries to
  open to a non-local address fails loudly.
* Thread counts and tokenizer parallelism are fixed so runs are repeatable on a 2-core machine.
"""

from __future__ import annotations

import os
import socket

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host not in _LOCAL_HOSTS and not host.startswith("127."):
        raise RuntimeError(f"tests must not use the network (tried to connect to {address!r})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any unit test that opens a connection to a non-local address."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
