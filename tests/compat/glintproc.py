"""Start and stop a glint server for the compatibility tests.

Used by conftest.py (when GLINT_URL is not set) and by the crash test, which
needs a server of its own that it can kill and restart on the same data.
"""

import os
import pathlib
import signal
import socket
import subprocess
import time

import requests

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def glint_binary():
    """Path of the glint binary under test: $GLINT_BIN or the debug build."""
    if os.environ.get("GLINT_BIN"):
        return pathlib.Path(os.environ["GLINT_BIN"])
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    return target / "debug" / "glint"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GlintServer:
    """One glint process with its own config file, data dir and log file."""

    def __init__(self, workdir, port=None, extra_config=""):
        self.workdir = pathlib.Path(workdir)
        self.port = port or free_port()
        self.data_dir = self.workdir / "data"
        self.store_dir = self.data_dir / "images"
        self.db_path = self.data_dir / "glint.sqlite"
        self.config_file = self.workdir / "glance-api.conf"
        self.log_path = self.workdir / "glint.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self._log = None
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            "[DEFAULT]\n"
            "bind_host = 127.0.0.1\n"
            f"bind_port = {self.port}\n"
            "\n[database]\n"
            f"connection = sqlite:///{self.db_path}\n"
            "\n[glance_store]\n"
            f"filesystem_store_datadir = {self.store_dir}\n"
            "\n[glint]\n"
            f"data_dir = {self.data_dir}\n" + extra_config
        )

    def start(self, timeout=60):
        binary = glint_binary()
        if not binary.exists():
            raise RuntimeError(f"glint binary not found at {binary} (cargo build -p glint)")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--config-file", str(self.config_file)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"glint exited with {self.proc.returncode} before answering:\n{self.log_tail()}"
                )
            try:
                if requests.get(self.url + "/versions", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"glint did not answer GET /versions in {timeout}s:\n{self.log_tail()}")

    def kill(self):
        """SIGKILL: the process gets no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._close_log()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._close_log()

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
