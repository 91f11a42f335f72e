"""A Binder-like session, measured: a Jupyter server and two notebook kernels on one core, with one torch thread.

Binder gives a session about 2 GB of memory and one CPU. This script runs notebooks the way a class on
Binder runs them, on this machine, and measures what the session costs:

* ``jupyter lab`` (what Binder starts) is launched pinned to one core (``os.sched_setaffinity`` in the
  child before it starts; the kernels it starts inherit the pin) with ``OMP_NUM_THREADS=1`` and
  ``MKL_NUM_THREADS=1`` in its environment, so torch runs one thread, as on Binder. After each notebook,
  its kernel is asked for ``torch.get_num_threads()`` and its CPU affinity, and the script stops if
  either is not what it should be;
* each notebook is opened through the server's sessions API, so its kernel starts in the notebook's
  folder as when a learner opens it, and run cell by cell (the cells as saved: in the instructor copies,
  the solutions are in place), one notebook at a time. The previous notebook's kernel stays open, idle,
  while the next one runs: two kernels, as for a learner who moves on without shutting the last one down;
  it is shut down when a third notebook opens;
* every 0.2 s the proportional set size (PSS) of the server and of all its descendant processes is
  summed (psutil). PSS splits each shared page between the processes that map it, so the sum is what the
  session occupies in memory, which is what Binder's limit is about (RSS would count shared libraries once
  per kernel).

It prints one row per notebook (seconds to start its kernel, seconds to run all its cells at one CPU, the
session's peak PSS while it ran, how it ended) and the session's peak against Binder's 2 GB. Times are
wall-clock: run it on a quiet machine, where nothing else uses the chosen core.

    python benchmarks/binder_session.py notebooks/*.ipynb                 # the kit's notebooks, in order
    python benchmarks/binder_session.py notebooks/*.ipynb --json out.json # ... and keep the numbers

Run on another machine, the times scale with its single-core speed; the memory does not.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import psutil
from jupyter_client import BlockingKernelClient

THREAD_VARIABLES = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # what binder/start sets for a session
BINDER_MEMORY_MB = 2048
KERNELS_OPEN = 2
CHECK_KERNEL = "import os, torch\nprint(torch.get_num_threads(), sorted(os.sched_getaffinity(0)))"


class SessionMemory(threading.Thread):
    """Samples the summed PSS (bytes) of a process and all its descendants every ``interval`` seconds."""

    def __init__(self, root: psutil.Process, interval: float) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak = self.window_peak = self.samples = 0
        self.stopped = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def sample(self) -> int:
        """One reading: the session's PSS now (also recorded in the peaks)."""
        total = 0
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        for process in processes:
            try:
                total += process.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue  # a process that ended between the listing and the reading
        with self.lock:
            self.samples += 1
            self.peak, self.window_peak = max(self.peak, total), max(self.window_peak, total)
        return total

    def take_window_peak(self) -> int:
        """The peak since the last call (then start a new window)."""
        with self.lock:
            peak, self.window_peak = self.window_peak, 0
        return peak


class JupyterServer:
    """``jupyter lab`` on one core with one torch thread, and its own runtime folder (the kernels' connection files)."""

    def __init__(self, root: Path, cpu: int, log: Path, timeout: float) -> None:
        self.root, self.token = root, secrets.token_hex(16)
        self.runtime = Path(tempfile.mkdtemp(prefix="binder-session-runtime-"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
                   f"--IdentityProvider.token={self.token}"]
        if os.geteuid() == 0:
            command.append("--allow-root")  # as in many containers; Binder itself runs as a user
        environment = {**os.environ, **THREAD_VARIABLES, "JUPYTER_RUNTIME_DIR": str(self.runtime)}
        self.log = log.open("w")
        self.process = subprocess.Popen(command, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
                                        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.request("GET", "/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit(f"jupyter lab did not start (see {log})") from None
                time.sleep(0.5)

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
        return json.loads(text) if text else {}

    def open_notebook(self, path: Path, timeout: float) -> tuple[str, BlockingKernelClient]:
        """Open ``path`` as a learner would (a session with a python3 kernel); return the session id and a client."""
        relative = path.resolve().relative_to(self.root).as_posix()
        session = self.request("POST", "/api/sessions", {"path": relative, "type": "notebook", "name": path.name,
                                                         "kernel": {"name": "python3"}})
        connection = self.runtime / f"kernel-{session['kernel']['id']}.json"
        deadline = time.monotonic() + timeout
        while not connection.is_file():
            if time.monotonic() > deadline:
                raise SystemExit(f"no connection file for the kernel of {path.name} in {self.runtime}")
            time.sleep(0.1)
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        client.start_channels(hb=False)  # a kernel still importing misses 1 s heartbeats; wait for its reply instead
        client.wait_for_ready(timeout=timeout)
        return session["id"], client

    def close_session(self, session_id: str) -> None:
        self.request("DELETE", f"/api/sessions/{session_id}")  # shuts its kernel down

    def stop(self) -> None:
        """Stop the server (which shuts down its kernels), then anything of its own that is still running."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for child in children:
            if child.is_running():
                child.kill()
        self.log.close()
        shutil.rmtree(self.runtime, ignore_errors=True)


def run_cells(client: BlockingKernelClient, notebook: nbformat.NotebookNode, timeout: float) -> str:
    """Run every code cell in order; ``"ok"``, or the first error as ``"cell N: Name: message"``."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        reply = client.execute_interactive(cell.source, timeout=timeout, output_hook=lambda message: None,
                                           allow_stdin=False)
        if reply["content"]["status"] != "ok":
            content = reply["content"]
            return f"cell {index}: {content.get('ename', 'error')}: {str(content.get('evalue', ''))[:120]}"
    return "ok"


def kernel_threads_and_cpus(client: BlockingKernelClient) -> str:
    """What the kernel reports for ``torch.get_num_threads()`` and its CPU affinity, as printed."""
    printed: list[str] = []

    def keep(message: dict) -> None:
        if message["header"]["msg_type"] == "stream":
            printed.append(message["content"]["text"])

    client.execute_interactive(CHECK_KERNEL, timeout=120, output_hook=keep, allow_stdin=False)
    return "".join(printed).strip()


def measure(notebooks: list[Path], cpu: int, interval: float, timeout: float, log: Path) -> dict:
    """Run the session; return the per-notebook rows and the session's figures."""
    root = Path(os.path.commonpath([path.resolve().parent for path in notebooks]))
    server = JupyterServer(root, cpu, log, timeout=120)
    memory = SessionMemory(psutil.Process(server.process.pid), interval)
    open_sessions: list[tuple[str, BlockingKernelClient]] = []
    rows = []
    try:
        time.sleep(2)
        server_alone = memory.sample()
        memory.start()
        for path in notebooks:
            notebook = nbformat.read(path, as_version=4)
            if len(open_sessions) == KERNELS_OPEN:  # the learner's third notebook: the oldest kernel goes
                session_id, client = open_sessions.pop(0)
                client.stop_channels()
                server.close_session(session_id)
            memory.take_window_peak()
            start = time.perf_counter()
            session_id, client = server.open_notebook(path, timeout=120)
            started = time.perf_counter()
            open_sessions.append((session_id, client))
            status = run_cells(client, notebook, timeout)
            finished = time.perf_counter()
            threads = kernel_threads_and_cpus(client)
            memory.sample()
            rows.append({"notebook": path.name, "start_seconds": started - start, "run_seconds": finished - started,
                         "peak_pss_mb": memory.take_window_peak() / 2**20, "status": status,
                         "kernels_open": len(open_sessions), "torch_threads_and_cpus": threads})
            print(f"  {path.name}: {finished - started:.1f} s, {status}", file=sys.stderr, flush=True)
            if threads != f"1 [{cpu}]":
                raise SystemExit(f"{path.name}: the kernel reports torch threads and CPUs {threads!r}, not 1 [{cpu}]")
    finally:
        memory.stopped.set()
        for _, client in open_sessions:
            client.stop_channels()
        server.stop()
    return {"cpu": cpu, "thread_variables": THREAD_VARIABLES, "interval_seconds": interval, "samples": memory.samples,
            "server_alone_pss_mb": server_alone / 2**20, "session_peak_pss_mb": memory.peak / 2**20, "rows": rows}


def print_table(result: dict) -> None:
    print(f"\nBinder-like session: core {result['cpu']}, {', '.join(f'{k}={v}' for k, v in THREAD_VARIABLES.items())}, "
          f"up to {KERNELS_OPEN} kernels open, PSS of server + kernels every {result['interval_seconds']} s "
          f"({result['samples']} samples)\n")
    print(f"{'notebook':44s} {'kernel start s':>14s} {'seconds at 1 CPU':>16s} {'peak PSS MB':>12s}  status")
    for row in result["rows"]:
        print(f"{row['notebook']:44s} {row['start_seconds']:14.1f} {row['run_seconds']:16.1f} "
              f"{row['peak_pss_mb']:12.0f}  {row['status']}")
    peak = result["session_peak_pss_mb"]
    print(f"\nserver alone: {result['server_alone_pss_mb']:.0f} MB PSS")
    print(f"session peak: {peak:.0f} MB PSS, {peak / BINDER_MEMORY_MB:.0%} of Binder's {BINDER_MEMORY_MB} MB "
          f"({'within' if peak < BINDER_MEMORY_MB else 'OVER'} the limit)")


def run_record(argv: list[str]) -> dict:
    """What produced a result: the command, the commit (and whether the tree had changes), versions, machine, time."""
    from labkit.reproducibility import package_versions

    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], capture_output=True, text=True, check=False,
                              cwd=Path(__file__).resolve().parent)
        return done.stdout.strip() if done.returncode == 0 else "unknown"

    cpu_models = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")] if Path("/proc/cpuinfo").is_file() else []
    return {"command": "python benchmarks/binder_session.py " + " ".join(argv), "commit": git("rev-parse", "HEAD"),
            "uncommitted_changes": git("status", "--porcelain") not in ("", "unknown"),
            "versions": package_versions(), "cpu_model": cpu_models[0] if cpu_models else "unknown",
            "cores": os.cpu_count(), "created": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="the notebooks, run in the order given")
    parser.add_argument("--cpu", type=int, default=0, help="the core to pin the server and its kernels to (default 0)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between memory samples (default 0.2)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a single cell may take (default 600)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--log", type=Path, default=Path(tempfile.gettempdir()) / "binder_session_server.log",
                        help="the server's log (default: binder_session_server.log in the temp folder)")
    arguments = parser.parse_args()
    missing = [str(path) for path in arguments.notebooks if not path.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if arguments.cpu not in os.sched_getaffinity(0):
        parser.error(f"core {arguments.cpu} is not available here; choose one of {sorted(os.sched_getaffinity(0))}")
    result = measure(arguments.notebooks, arguments.cpu, arguments.interval, arguments.timeout, arguments.log)
    print_table(result)
    if arguments.json:
        arguments.json.write_text(json.dumps({"run": run_record(sys.argv[1:]), **result}, indent=1) + "\n")
    if any(row["status"] != "ok" for row in result["rows"]) or result["session_peak_pss_mb"] >= BINDER_MEMORY_MB:
        sys.exit(1)


if __name__ == "__main__":
    main()
