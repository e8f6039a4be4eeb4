"""SIGKILL during an upload, then restart: the image goes back to `queued` and
the file store keeps no partial data.

Runs a glint process of its own (own port, own data dir) so that killing it
does not disturb the other tests.
"""

import threading
import time

import pytest
import requests

from glintproc import GlintServer

CHUNK = 1 << 20
TOTAL = 200 * CHUNK


def files_under(directory):
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if not p.is_dir())


def big_files(server):
    """Files over 1 MiB in the data dir, other than the SQLite database."""
    return [
        (str(p), p.stat().st_size)
        for p in server.data_dir.rglob("*")
        if p.is_file() and not p.name.startswith(server.db_path.name) and p.stat().st_size > CHUNK
    ]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = predicate()
        if ok:
            return last
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")


@pytest.mark.crash
def test_sigkill_during_upload_leaves_image_queued_and_store_clean(tmp_path):
    server = GlintServer(tmp_path / "crash").start()
    stop = threading.Event()
    upload_error = []
    try:
        created = requests.post(
            server.url + "/v2/images",
            json={"name": "crash-victim", "disk_format": "raw", "container_format": "bare"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        image_id = created.json()["id"]
        image_url = f"{server.url}/v2/images/{image_id}"

        def slow_body():
            # ~200 MiB at a trickle: the server is killed long before the end.
            chunk = b"\xab" * CHUNK
            for _ in range(TOTAL // CHUNK):
                if stop.is_set():
                    return
                yield chunk
                time.sleep(0.1)

        def upload():
            try:
                requests.put(
                    image_url + "/file",
                    data=slow_body(),  # a generator: chunked transfer encoding
                    headers={"Content-Type": "application/octet-stream"},
                    timeout=120,
                )
            except requests.RequestException as error:
                upload_error.append(error)

        uploader = threading.Thread(target=upload, daemon=True)
        uploader.start()

        def saving():
            status = requests.get(image_url, timeout=5).json()["status"]
            return status == "saving", status

        wait_for(saving, 30, "status saving during the upload")
        # Let some data reach the store's temporary file before the kill.
        time.sleep(1.0)
        store_during = files_under(server.store_dir)
        partial_at_kill = big_files(server)
        server.kill()
        stop.set()
        uploader.join(timeout=30)
        assert not uploader.is_alive()

        server.start()

        def queued():
            status = requests.get(image_url, timeout=5).json()["status"]
            return status == "queued", status

        image = wait_for(queued, 30, "status queued after the restart")
        assert image == "queued"
        body = requests.get(image_url, timeout=5).json()
        assert body["size"] is None and body["checksum"] is None, body

        def store_empty():
            left = files_under(server.store_dir)
            return not left, left

        wait_for(store_empty, 30, f"an empty file store {server.store_dir}")
        # Nor anywhere else in the data dir (a staging or temp dir of its own).
        assert not big_files(server), "partial upload data left behind"
        # The kill really interrupted a write: some data had reached the disk.
        assert partial_at_kill, "no partial data on disk when the server was killed"

        # The image is usable again: a fresh upload succeeds.
        retry = requests.put(
            image_url + "/file",
            data=b"\x00" * 4096,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        assert retry.status_code == 204, retry.text
        assert requests.get(image_url, timeout=5).json()["status"] == "active"
        assert len(files_under(server.store_dir)) == 1
    except BaseException:
        print(f"store during upload: {locals().get('store_during')}")
        print(f"glint log:\n{server.log_tail(80)}")
        raise
    finally:
        stop.set()
        server.stop()


class _SlowImage:
    """An HTTP server on 127.0.0.1 serving SIZE bytes at /image: slowly
    until `fast` is set, at full speed after."""

    SIZE = 64 * CHUNK

    def __init__(self):
        import hashlib
        import http.server

        self.fast = threading.Event()
        self.sent = 0
        self.block = bytes(range(256)) * (CHUNK // 256)
        self.md5 = hashlib.md5(self.block * (self.SIZE // CHUNK)).hexdigest()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(outer.SIZE))
                self.end_headers()
                try:
                    for _ in range(outer.SIZE // CHUNK):
                        self.wfile.write(outer.block)
                        outer.sent += CHUNK
                        if not outer.fast.is_set():
                            time.sleep(0.2)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/image"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.fast.set()
        self.httpd.shutdown()


@pytest.mark.crash
def test_sigkill_during_an_import_then_restart_resumes_it(tmp_path):
    """A web-download import killed mid-download is taken up again by the
    restarted process once the dead one's job lease has expired: the image
    ends `active` with the whole data, never stuck in `importing`."""
    web = _SlowImage()
    extra = "\n[import_filtering_opts]\nallowed_hosts = 127.0.0.1\nallowed_ports =\n"
    extra += "\n[glint]\nupload_lease_time = 3\n"
    server = GlintServer(tmp_path / "import-crash", extra_config=extra).start()
    try:
        created = requests.post(
            server.url + "/v2/images",
            json={"name": "import-victim", "disk_format": "raw", "container_format": "bare"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        image_id = created.json()["id"]
        image_url = f"{server.url}/v2/images/{image_id}"
        started = requests.post(
            image_url + "/import",
            json={"method": {"name": "web-download", "uri": web.url}},
            timeout=10,
        )
        assert started.status_code == 202, started.text
        wait_for(lambda: (web.sent >= 4 * CHUNK, web.sent), 30, "the download under way")
        assert requests.get(image_url, timeout=5).json()["status"] == "importing"
        server.kill()
        web.fast.set()
        server.start()

        def active():
            status = requests.get(image_url, timeout=5).json()["status"]
            return status == "active", status

        wait_for(active, 60, "the resumed import to activate the image")
        body = requests.get(image_url, timeout=5).json()
        assert body["checksum"] == web.md5, body
        assert body["size"] == web.SIZE, body
        assert "os_glance_import_task" not in body, body
        tasks = requests.get(image_url + "/tasks", timeout=5).json()["tasks"]
        assert [t["status"] for t in tasks] == ["success"], tasks
        assert files_under(server.store_dir) == [image_id]
        data = requests.get(image_url + "/file", timeout=30).content
        assert len(data) == web.SIZE
    except BaseException:
        print(f"glint log:\n{server.log_tail(80)}")
        raise
    finally:
        server.stop()
        web.close()
