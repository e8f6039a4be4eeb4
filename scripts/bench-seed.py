#!/usr/bin/env python3
"""Create images through the API as fast as a few connections allow.

    scripts/bench-seed.py URL COUNT [--concurrency N] [--prefix P] [--ids FILE]
                          [--properties N] [--patch]

Standard library only. Prints one line of JSON: created, errors, seconds, rate.
With --ids, appends the new image ids to FILE, one per line. With
--properties, each image carries N more properties (`bench_prop_<k>`), as a
server snapshot carries its instance's. With --patch, each new image is then
changed once by a JSON patch that replaces one property's value (as editing
an image's metadata does), and the line also gives patched, patch_errors,
patch_seconds and patch_rate.
"""

import argparse
import http.client
import json
import threading
import time
import urllib.parse


def worker(url, jobs, prefix, extra, results, lock):
    parts = urllib.parse.urlsplit(url)
    conn = None
    created, errors, ids = 0, 0, []
    while True:
        with lock:
            if not jobs:
                break
            n = jobs.pop()
        image = {
            "name": f"{prefix}-{n:07d}",
            "disk_format": "raw",
            "container_format": "bare",
            "visibility": "public" if n % 2 else "private",
            "tags": ["bench", f"bucket-{n % 10}"],
            "os_distro": "cirros",
        }
        for k in range(extra):
            image[f"bench_prop_{k}"] = f"value-{k}-{n % 100}"
        body = json.dumps(image)
        for _attempt in range(3):
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                conn.request("POST", "/v2/images", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                payload = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
                if resp.status == 201:
                    created += 1
                    ids.append(json.loads(payload)["id"])
                else:
                    errors += 1
                break
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
        else:
            errors += 1
    with lock:
        results["created"] += created
        results["errors"] += errors
        results["ids"].extend(ids)


def patcher(url, jobs, results, lock):
    parts = urllib.parse.urlsplit(url)
    conn = None
    patched, errors = 0, 0
    headers = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
    while True:
        with lock:
            if not jobs:
                break
            n, image_id = jobs.pop()
        body = json.dumps([{"op": "replace", "path": "/os_distro", "value": f"cirros-{n % 100}"}])
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            conn.request("PATCH", f"/v2/images/{image_id}", body, headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                patched += 1
            else:
                errors += 1
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
            errors += 1
    with lock:
        results["patched"] += patched
        results["patch_errors"] += errors


def run(threads):
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--ids")
    parser.add_argument("--properties", type=int, default=0)
    parser.add_argument("--patch", action="store_true")
    args = parser.parse_args()

    jobs = list(range(args.count))
    jobs.reverse()
    results = {"created": 0, "errors": 0, "ids": []}
    lock = threading.Lock()
    threads = [
        threading.Thread(
            target=worker,
            args=(args.url, jobs, args.prefix, args.properties, results, lock),
        )
        for _ in range(args.concurrency)
    ]
    seconds = run(threads)
    if args.ids:
        with open(args.ids, "a") as f:
            f.writelines(i + "\n" for i in results["ids"])
    out = {
        "created": results["created"],
        "errors": results["errors"],
        "seconds": round(seconds, 2),
        "rate": round(results["created"] / seconds, 1) if seconds else 0,
    }
    if args.patch:
        patches = list(enumerate(results["ids"]))
        patches.reverse()
        results.update(patched=0, patch_errors=0)
        threads = [
            threading.Thread(target=patcher, args=(args.url, patches, results, lock))
            for _ in range(args.concurrency)
        ]
        seconds = run(threads)
        out.update(
            patched=results["patched"],
            patch_errors=results["patch_errors"],
            patch_seconds=round(seconds, 2),
            patch_rate=round(results["patched"] / seconds, 1) if seconds else 0,
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
