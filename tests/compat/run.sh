#!/usr/bin/env bash
# Run the compatibility suite: the real OpenStack clients against a glint
# server started here on a free port with a throw-away data directory.
#
#   tests/compat/run.sh [pytest args...]
#   tests/compat/run.sh --venv-only     (only create/refresh the venv)
#
# Needs the glint binary (default target/debug/glint, or $GLINT_BIN) and
# qemu-img. Creates tests/compat/.venv from requirements.txt when it is
# missing or out of date. Exits non-zero on any failure, including "no tests".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
glint_bin="$(realpath -m "${GLINT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/glint}")"

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 /root/.pyenv/versions/3.11*/bin/python3 python3; do
        [[ -n "$candidate" ]] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "run.sh: no Python >= 3.10 found (set PYTHON=...)" >&2
    return 1
}

# (Re)create the venv when requirements.txt changed since it was built.
ensure_venv() {
    local want have=""
    want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
    [[ -f "$venv/.requirements.sha256" ]] && have="$(cat "$venv/.requirements.sha256")"
    if [[ -x "$venv/bin/python" && "$want" == "$have" ]]; then
        return 0
    fi
    local python
    python="$(find_python)"
    echo "--- creating $venv with $python"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    echo "$want" >"$venv/.requirements.sha256"
}

ensure_venv
if [[ "${1:-}" == "--venv-only" ]]; then
    exit 0
fi

if [[ ! -x "$glint_bin" ]]; then
    echo "run.sh: glint binary not found at $glint_bin (run: cargo build -p glint)" >&2
    exit 1
fi
command -v qemu-img >/dev/null || { echo "run.sh: qemu-img is required" >&2; exit 1; }

workdir="$(mktemp -d "${TMPDIR:-/tmp}/glint-compat.XXXXXX")"
server_pid=""
cleanup() {
    local status=$?
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -ne 0 && -f "$workdir/glint.log" ]]; then
        echo "--- last 30 lines of the glint log ($workdir/glint.log)"
        tail -n 30 "$workdir/glint.log" || true
    fi
    if [[ -n "${KEEP_COMPAT_TMP:-}" ]]; then
        echo "--- kept $workdir"
    else
        rm -rf "$workdir"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
data_dir="$workdir/data"
store_dir="$data_dir/images"
mkdir -p "$store_dir"
cat >"$workdir/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $port

[database]
connection = sqlite:///$data_dir/glint.sqlite

[glance_store]
filesystem_store_datadir = $store_dir

[glint]
data_dir = $data_dir
EOF

url="http://127.0.0.1:$port"
echo "--- starting $glint_bin serve on $url (data in $data_dir)"
(cd "$workdir" && exec "$glint_bin" serve --config-file "$workdir/glance-api.conf") \
    >"$workdir/glint.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 300); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run.sh: glint exited before answering" >&2
        exit 1
    fi
    if curl -fsS -o /dev/null --max-time 2 "$url/versions" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.1
done
[[ -n "$ready" ]] || { echo "run.sh: glint did not answer GET /versions within 30 s" >&2; exit 1; }

echo "--- pytest against $url"
status=0
(
    cd "$here"
    GLINT_URL="$url" GLINT_BIN="$glint_bin" "$venv/bin/python" -m pytest "$@"
) || status=$?
if [[ $status -eq 5 ]]; then
    echo "run.sh: pytest collected no tests" >&2
fi
exit "$status"
