"""Helpers shared by the compatibility tests."""

import hashlib
import os
import pathlib
import subprocess
import sys

BIN_DIR = pathlib.Path(sys.executable).parent


def write_random(path, size, seed=None):
    """Write `size` pseudo-random bytes; returns (bytes md5, bytes sha512)."""
    data = os.urandom(size) if seed is None else _seeded(size, seed)
    path.write_bytes(data)
    return hashlib.md5(data).hexdigest(), hashlib.sha512(data).hexdigest()


def _seeded(size, seed):
    out = bytearray()
    block = hashlib.sha512(str(seed).encode()).digest()
    while len(out) < size:
        block = hashlib.sha512(block).digest()
        out += block
    return bytes(out[:size])


def file_hashes(path):
    md5, sha512 = hashlib.md5(), hashlib.sha512()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            md5.update(chunk)
            sha512.update(chunk)
    return md5.hexdigest(), sha512.hexdigest()


def client_env():
    """Environment for the CLI clients: no OS_* settings from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run_cli(args, check=True, timeout=120, close_stdin=False):
    """Run a client command; returns CompletedProcess with text stdout/stderr.

    With `close_stdin` the command starts with no standard input at all, as
    from a terminal-less job: glanceclient then does not take stdin for
    image data (it would with an empty pipe).
    """
    proc = subprocess.run(
        args,
        env=client_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=None if close_stdin else subprocess.DEVNULL,
        preexec_fn=(lambda: os.close(0)) if close_stdin else None,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def parse_table(text):
    """Parse glanceclient's `| Property | Value |` table into a dict.

    Long values wrap onto following rows whose Property cell is empty.
    """
    props, last = {}, None
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|", 1)]
        if len(cells) != 2:
            continue
        key, value = cells
        if key == "Property" and value == "Value":
            continue
        if key:
            props[key] = value
            last = key
        elif last is not None:
            props[last] += value
    return props
