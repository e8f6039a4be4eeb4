"""glint behind a real Keystone, acting as real users with real tokens.

Needs a running Keystone with the accounts of tests/keystone (admin, the
`glint` service user, alice and rita in project alpha, bob in project beta):
scripts/test starts one and exports its settings (tests/keystone/env.sh).
Without KEYSTONE_URL these tests are skipped, unless GLINT_REQUIRE_KEYSTONE
is set, as in CI, where a missing Keystone is a failure.
"""

import datetime
import os
import subprocess
import time
import uuid

import pytest
import requests

from glintproc import REPO_ROOT, GlintServer
from helpers import parse_table, run_cli, write_random

# Seconds glint keeps a validated token before asking Keystone again, in the
# server used by the revocation test.
SHORT_CACHE = 2


def _keystone_url():
    url = os.environ.get("KEYSTONE_URL")
    if url:
        return url.rstrip("/")
    if os.environ.get("GLINT_REQUIRE_KEYSTONE"):
        pytest.fail("KEYSTONE_URL is not set but GLINT_REQUIRE_KEYSTONE is")
    pytest.skip("KEYSTONE_URL is not set (source tests/keystone/env.sh with Keystone running)")


class Keystone:
    """Settings of the test Keystone and password tokens for its users."""

    def __init__(self, url):
        self.url = url
        self.user_domain = os.environ.get("KS_USER_DOMAIN_NAME", "Default")
        self.project_domain = os.environ.get("KS_PROJECT_DOMAIN_NAME", "Default")
        self._tokens = {}

    def account(self, who):
        who = who.upper()
        return (
            os.environ[f"KS_{who}_USER"],
            os.environ[f"KS_{who}_PASSWORD"],
            os.environ[f"KS_{who}_PROJECT"],
        )

    def issue(self, who):
        """A new project-scoped token: (token id, token body)."""
        user, password, project = self.account(who)
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": user,
                            "domain": {"name": self.user_domain},
                            "password": password,
                        }
                    },
                },
                "scope": {
                    "project": {"name": project, "domain": {"name": self.project_domain}}
                },
            }
        }
        resp = requests.post(f"{self.url}/v3/auth/tokens?nocatalog", json=body, timeout=30)
        assert resp.status_code == 201, resp.text
        return resp.headers["X-Subject-Token"], resp.json()["token"]

    def token(self, who):
        """A cached token of `who` for tests that do not revoke it."""
        if who not in self._tokens:
            self._tokens[who] = self.issue(who)
        return self._tokens[who][0]

    def project_id(self, who):
        self.token(who)
        return self._tokens[who][1]["project"]["id"]

    def user_id(self, who):
        self.token(who)
        return self._tokens[who][1]["user"]["id"]

    def cli_auth(self, who):
        user, password, project = self.account(who)
        return [
            "--os-auth-url", f"{self.url}/v3",
            "--os-username", user,
            "--os-password", password,
            "--os-project-name", project,
            "--os-user-domain-name", self.user_domain,
            "--os-project-domain-name", self.project_domain,
        ]  # fmt: skip


@pytest.fixture(scope="session")
def keystone():
    return Keystone(_keystone_url())


def _glint_with_keystone(keystone, workdir, cache_time, extra_config=""):
    user, password, project = keystone.account("service")
    extra = f"""
[paste_deploy]
flavor = keystone

[keystone_authtoken]
www_authenticate_uri = {keystone.url}
auth_url = {keystone.url}
auth_type = password
username = {user}
password = {password}
project_name = {project}
user_domain_name = {keystone.user_domain}
project_domain_name = {keystone.project_domain}
token_cache_time = {cache_time}
"""
    return GlintServer(workdir, extra_config=extra + extra_config).start()


@pytest.fixture(scope="session")
def ks_glint(keystone, tmp_path_factory):
    """glint with keystone auth, registered as the image endpoint of the catalog."""
    server = _glint_with_keystone(keystone, tmp_path_factory.mktemp("ks-glint"), 300)
    subprocess.run(
        [str(REPO_ROOT / "tests" / "keystone" / "start.sh"), server.url],
        check=True,
        capture_output=True,
        timeout=120,
    )
    yield server
    server.stop()


def as_user(keystone, who, token=None):
    """A requests session sending `who`'s token."""
    session = requests.Session()
    session.headers["X-Auth-Token"] = token or keystone.token(who)
    return session


def create_with_data(ks_glint, session, data, **fields):
    body = {"name": f"ks-{uuid.uuid4().hex[:10]}", "disk_format": "raw", "container_format": "bare"}
    body.update(fields)
    resp = session.post(f"{ks_glint.url}/v2/images", json=body)
    assert resp.status_code == 201, resp.text
    image = resp.json()
    resp = session.put(
        f"{ks_glint.url}/v2/images/{image['id']}/file",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert resp.status_code == 204, resp.text
    return image


def curl_post(url, token):
    """What an operator types: curl -X POST -H 'X-Auth-Token: …' URL; the status code."""
    proc = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
         "-H", f"X-Auth-Token: {token}", url],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return int(proc.stdout)


def test_versions_and_healthcheck_need_no_token(ks_glint):
    assert requests.get(f"{ks_glint.url}/", timeout=10).status_code == 300
    assert requests.get(f"{ks_glint.url}/versions", timeout=10).status_code == 200


@pytest.mark.parametrize("token", [None, "not-a-token", "gAAAAABfake"])
def test_missing_or_invalid_token_is_401_with_keystone_uri(ks_glint, keystone, token):
    headers = {"X-Auth-Token": token} if token else {}
    resp = requests.get(f"{ks_glint.url}/v2/images", headers=headers, timeout=30)
    assert resp.status_code == 401, resp.text
    assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.url}"'


def test_deactivate_walkthrough_with_real_tokens(ks_glint, keystone, tmp_path):
    """alice's image; the admin deactivates it with curl; downloads are refused
    to everyone but the admin until the admin reactivates it."""
    path = tmp_path / "disk.raw"
    md5, _ = write_random(path, 3 << 20)
    name = f"ks-walkthrough-{uuid.uuid4().hex[:8]}"
    run_cli(
        ["glance", *keystone.cli_auth("alice"), "image-create", "--name", name,
         "--disk-format", "raw", "--container-format", "bare", "--file", str(path)]
    )  # fmt: skip
    alice = as_user(keystone, "alice")
    images = alice.get(f"{ks_glint.url}/v2/images", params={"name": name}).json()["images"]
    assert len(images) == 1
    image = images[0]
    assert image["owner"] == keystone.project_id("alice")
    assert image["status"] == "active" and image["checksum"] == md5
    file_url = f"{ks_glint.url}/v2/images/{image['id']}/file"

    admin_token = keystone.token("admin")
    action = f"{ks_glint.url}/v2/images/{image['id']}/actions"
    assert curl_post(f"{action}/deactivate", admin_token) == 204

    assert alice.get(file_url).status_code == 403
    assert as_user(keystone, "rita").get(file_url).status_code == 403
    assert as_user(keystone, "bob").get(file_url).status_code == 404
    assert as_user(keystone, "admin").get(file_url).status_code == 200
    # Only the admin or the owner's members may reactivate; rita is a reader.
    assert curl_post(f"{action}/reactivate", keystone.token("rita")) == 403

    assert curl_post(f"{action}/reactivate", admin_token) == 204
    resp = alice.get(file_url)
    assert resp.status_code == 200
    assert resp.headers["Content-MD5"] == md5


def test_reader_sees_but_cannot_write(ks_glint, keystone):
    alice = as_user(keystone, "alice")
    image = create_with_data(ks_glint, alice, b"reader test")
    rita = as_user(keystone, "rita")
    assert rita.get(f"{ks_glint.url}/v2/images/{image['id']}").status_code == 200
    resp = rita.post(f"{ks_glint.url}/v2/images", json={"name": "by-a-reader"})
    assert resp.status_code == 403, resp.text
    assert rita.delete(f"{ks_glint.url}/v2/images/{image['id']}").status_code == 403
    resp = rita.patch(
        f"{ks_glint.url}/v2/images/{image['id']}",
        json=[{"op": "replace", "path": "/name", "value": "renamed"}],
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
    )
    assert resp.status_code == 403, resp.text


def test_forged_identity_headers_are_ignored(ks_glint, keystone):
    alice = as_user(keystone, "alice")
    image = create_with_data(ks_glint, alice, b"private to alpha")
    bob = as_user(keystone, "bob")
    forged = {
        "X-Project-Id": keystone.project_id("alice"),
        "X-Tenant-Id": keystone.project_id("alice"),
        "X-User-Id": keystone.user_id("alice"),
        "X-Roles": "admin,member,reader",
        "X-Identity-Status": "Confirmed",
        "X-Is-Admin-Project": "True",
    }
    url = f"{ks_glint.url}/v2/images/{image['id']}"
    assert bob.get(url, headers=forged).status_code == 404
    assert bob.post(f"{url}/actions/deactivate", headers=forged).status_code == 404
    listed = bob.get(f"{ks_glint.url}/v2/images", headers=forged).json()["images"]
    assert image["id"] not in {i["id"] for i in listed}
    # Without a token the forged headers are not enough either.
    resp = requests.get(url, headers=forged, timeout=30)
    assert resp.status_code == 401


PATCH_JSON = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


def test_members_cannot_move_images_between_projects(ks_glint, keystone):
    """alice (project alpha) may neither create an image owned by bob's project
    or by nobody, nor move hers there, by any way of writing the owner;
    bob never sees her image."""
    alice = as_user(keystone, "alice")
    bob = as_user(keystone, "bob")
    beta = keystone.project_id("bob")
    images = f"{ks_glint.url}/v2/images"
    for owner in (beta, None):
        resp = alice.post(images, json={"name": "planted", "owner": owner})
        assert resp.status_code == 403, resp.text
        assert "You are not permitted to create images owned by" in resp.text
    image = create_with_data(ks_glint, alice, b"stays in alpha", visibility="private")
    url = f"{images}/{image['id']}"
    for op in ("add", "replace"):
        for owner in (beta, None):
            change = [{"op": op, "path": "/owner", "value": owner}]
            resp = alice.patch(url, json=change, headers=PATCH_JSON)
            assert resp.status_code == 403, (op, owner, resp.text)
            assert "Owner can't be updated by non admin." in resp.text
    assert alice.get(url).json()["owner"] == keystone.project_id("alice")
    assert bob.get(url).status_code == 404
    assert image["id"] not in {i["id"] for i in bob.get(images).json()["images"]}
    # The admin may hand the image to another project.
    admin = as_user(keystone, "admin")
    change = [{"op": "replace", "path": "/owner", "value": beta}]
    resp = admin.patch(url, json=change, headers=PATCH_JSON)
    assert resp.status_code == 200, resp.text
    assert bob.get(url).status_code == 200
    assert alice.get(url).status_code == 404


def test_sharing_between_projects_with_members(ks_glint, keystone):
    alice = as_user(keystone, "alice")
    image = create_with_data(ks_glint, alice, b"shared bytes", visibility="shared")
    image_id = image["id"]
    beta = keystone.project_id("bob")
    glance_alice = ["glance", *keystone.cli_auth("alice")]
    glance_bob = ["glance", *keystone.cli_auth("bob")]

    run_cli([*glance_alice, "member-create", image_id, beta])
    bob = as_user(keystone, "bob")
    listed = lambda **params: {  # noqa: E731
        i["id"] for i in bob.get(f"{ks_glint.url}/v2/images", params=params).json()["images"]
    }
    assert image_id not in listed()
    assert image_id in listed(member_status="pending")
    # Only the member decides its status; the owner cannot accept for it.
    refused = run_cli([*glance_alice, "member-update", image_id, beta, "accepted"], check=False)
    assert refused.returncode != 0

    run_cli([*glance_bob, "member-update", image_id, beta, "accepted"])
    assert image_id in listed()
    resp = bob.get(f"{ks_glint.url}/v2/images/{image_id}/file")
    assert resp.status_code == 200 and resp.content == b"shared bytes"
    members = run_cli([*glance_alice, "member-list", "--image-id", image_id]).stdout
    assert beta in members and "accepted" in members

    run_cli([*glance_alice, "member-delete", image_id, beta])
    assert bob.get(f"{ks_glint.url}/v2/images/{image_id}").status_code == 404


def test_openstack_cli_lists_through_the_catalog(ks_glint, keystone):
    alice = as_user(keystone, "alice")
    image = create_with_data(ks_glint, alice, b"catalog")
    out = run_cli(["openstack", *keystone.cli_auth("alice"), "image", "list", "-f", "value", "-c", "ID"])
    assert image["id"] in out.stdout.split()


def test_revoked_token_is_refused_once_the_cache_time_passed(keystone, tmp_path):
    server = _glint_with_keystone(keystone, tmp_path / "glint", SHORT_CACHE)
    try:
        token, _ = keystone.issue("alice")
        session = as_user(keystone, "alice", token)
        assert session.get(f"{server.url}/v2/images").status_code == 200
        resp = requests.delete(
            f"{keystone.url}/v3/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
            timeout=30,
        )
        assert resp.status_code == 204, resp.text
        time.sleep(SHORT_CACHE + 1)
        resp = session.get(f"{server.url}/v2/images")
        assert resp.status_code == 401, resp.text
        assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.url}"'
    finally:
        server.stop()


def test_expired_token_is_refused_even_while_cached(ks_glint, keystone):
    """A token from an application credential that expires in a few seconds:
    Keystone caps the token's life at the credential's; glint (caching for
    300 s here) must stop accepting it at its expiry."""
    life = 6
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=life)
    user_id = keystone.user_id("alice")
    resp = requests.post(
        f"{keystone.url}/v3/users/{user_id}/application_credentials",
        headers={"X-Auth-Token": keystone.token("alice")},
        json={
            "application_credential": {
                "name": f"short-{uuid.uuid4().hex[:8]}",
                "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            }
        },
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    cred = resp.json()["application_credential"]
    resp = requests.post(
        f"{keystone.url}/v3/auth/tokens?nocatalog",
        json={
            "auth": {
                "identity": {
                    "methods": ["application_credential"],
                    "application_credential": {"id": cred["id"], "secret": cred["secret"]},
                }
            }
        },
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    token = resp.headers["X-Subject-Token"]
    token_expiry = datetime.datetime.fromisoformat(
        resp.json()["token"]["expires_at"].replace("Z", "+00:00")
    )
    assert token_expiry <= expires + datetime.timedelta(seconds=1)

    session = as_user(keystone, "alice", token)
    assert session.get(f"{ks_glint.url}/v2/images").status_code == 200
    wait = (token_expiry - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    time.sleep(max(wait, 0) + 1.5)
    resp = session.get(f"{ks_glint.url}/v2/images")
    assert resp.status_code == 401, resp.text


def _system_admin_session(keystone):
    """Keystone's API as the admin, system-scoped (limits need it)."""
    user, password, _ = keystone.account("admin")
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"name": keystone.user_domain},
                             "password": password}
                },
            },
            "scope": {"system": {"all": True}},
        }
    }  # fmt: skip
    resp = requests.post(f"{keystone.url}/v3/auth/tokens?nocatalog", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    session = requests.Session()
    session.headers["X-Auth-Token"] = resp.headers["X-Subject-Token"]
    return session


def test_glance_usage_and_quotas_from_keystone_limits(keystone, tmp_path):
    """Limits registered in Keystone for an endpoint of this test's own:
    `glance usage` shows them, and `glance image-create` past
    image_count_total fails with Glance's 413."""
    admin = _system_admin_session(keystone)
    v3 = f"{keystone.url}/v3"
    run = uuid.uuid4().hex[:10]
    made = []
    server = None
    try:
        resp = admin.post(f"{v3}/services", json={"service": {
            "type": "image", "name": f"glint-compat-limits-{run}"}})  # fmt: skip
        assert resp.status_code == 201, resp.text
        service = resp.json()["service"]["id"]
        made.append(f"services/{service}")
        resp = admin.post(f"{v3}/endpoints", json={"endpoint": {
            "service_id": service, "interface": "public", "region_id": "RegionOne",
            "url": f"http://glint-compat-limits-{run}.invalid"}})  # fmt: skip
        assert resp.status_code == 201, resp.text
        endpoint = resp.json()["endpoint"]["id"]
        made.append(f"endpoints/{endpoint}")
        limits = [("image_size_total", 100), ("image_stage_total", 10),
                  ("image_count_total", 1), ("image_count_uploading", -1)]  # fmt: skip
        resp = admin.post(f"{v3}/registered_limits", json={"registered_limits": [
            {"service_id": service, "region_id": "RegionOne", "resource_name": name,
             "default_limit": limit} for name, limit in limits]})  # fmt: skip
        assert resp.status_code == 201, resp.text
        made += [f"registered_limits/{r['id']}" for r in resp.json()["registered_limits"]]

        user, password, project = keystone.account("service")
        admin_user, admin_password, _ = keystone.account("admin")
        extra = f"""
[paste_deploy]
flavor = keystone

[keystone_authtoken]
auth_url = {keystone.url}
auth_type = password
username = {user}
password = {password}
project_name = {project}
user_domain_name = {keystone.user_domain}
project_domain_name = {keystone.project_domain}

[oslo_limit]
auth_url = {keystone.url}
auth_type = password
username = {admin_user}
password = {admin_password}
user_domain_name = {keystone.user_domain}
system_scope = all
endpoint_id = {endpoint}
"""
        server = GlintServer(tmp_path / "glint", extra_config=extra)
        config = server.config_file.read_text().replace(
            "[DEFAULT]\n", "[DEFAULT]\nuse_keystone_limits = true\n", 1
        )
        server.config_file.write_text(config)
        server.start()
        glance = ["glance", *keystone.cli_auth("bob"), "--os-image-url", server.url]
        out = run_cli([*glance, "usage"]).stdout
        rows = {
            cells[0]: (int(cells[1]), int(cells[2]))
            for cells in (
                [c.strip() for c in line.strip("|").split("|")]
                for line in out.splitlines()
                if line.startswith("| image_")
            )
        }
        assert rows == {
            "image_size_total": (100, 0),
            "image_stage_total": (10, 0),
            "image_count_total": (1, 0),
            "image_count_uploading": (-1, 0),
        }, out
        create = [*glance, "image-create", "--disk-format", "raw", "--container-format", "bare"]
        run_cli(create)
        refused = run_cli(create, check=False)
        assert refused.returncode != 0
        assert "Resource image_count_total is over limit of 1" in refused.stderr, refused.stderr
        out = run_cli([*glance, "usage"]).stdout
        assert any(
            line.startswith("| image_count_total") and line.split("|")[3].strip() == "1"
            for line in out.splitlines()
        ), out
    finally:
        if server is not None:
            server.stop()
        for path in reversed(made):
            admin.delete(f"{v3}/{path}", timeout=30)


def test_glance_download_between_two_glints_with_real_tokens(ks_glint, keystone, tmp_path):
    """`glance image-create-via-import --import-method glance-download`: alice
    copies her image from the catalog's image service (ks_glint, in the
    Keystone's region) into a second glint, which finds it through her
    catalog and reads it with her token."""
    path = tmp_path / "disk.raw"
    md5, _ = write_random(path, 2 << 20)
    alice = as_user(keystone, "alice")
    source = create_with_data(
        ks_glint, alice, path.read_bytes(),
        os_distro="cirros", hw_rng_model="virtio", site_note="stays home",
    )  # fmt: skip
    port = ks_glint.url.rsplit(":", 1)[1]
    extra = f"""
[DEFAULT]
enabled_import_methods = glance-direct,web-download,glance-download

[import_filtering_opts]
allowed_hosts = 127.0.0.1
allowed_ports = {port}
"""
    importer = _glint_with_keystone(keystone, tmp_path / "importer", 300, extra)
    try:
        region = os.environ.get("KS_REGION", "RegionOne")
        out = run_cli(
            ["glance", *keystone.cli_auth("alice"), "--os-image-url", importer.url,
             "image-create-via-import", "--name", "downloaded",
             "--disk-format", "qcow2", "--container-format", "bare",
             "--import-method", "glance-download",
             "--remote-region", region, "--remote-image-id", source["id"]],
            close_stdin=True,
        ).stdout  # fmt: skip
        image_id = parse_table(out)["id"]
        deadline = time.monotonic() + 60
        while True:
            image = alice.get(f"{importer.url}/v2/images/{image_id}").json()
            if image["status"] in ("active", "queued") and "os_glance_import_task" not in image:
                break
            assert time.monotonic() < deadline, image
            time.sleep(0.2)
        assert image["status"] == "active", image
        assert image["checksum"] == md5
        assert image["disk_format"] == "raw"
        assert image["os_distro"] == "cirros"
        assert image["hw_rng_model"] == "virtio"
        assert "site_note" not in image
        data = alice.get(f"{importer.url}/v2/images/{image_id}/file").content
        assert data == path.read_bytes()
        tasks = alice.get(f"{importer.url}/v2/images/{image_id}/tasks").json()["tasks"]
        assert [t["status"] for t in tasks] == ["success"], tasks
        method = tasks[0]["input"]["import_req"]["method"]
        assert method["glance_service_interface"] == "public", tasks
        # The tasks API is the admin's by default, as in Glance.
        shown = parse_table(run_cli(
            ["glance", *keystone.cli_auth("admin"), "--os-image-url", importer.url,
             "task-show", tasks[0]["id"]],
            close_stdin=True,
        ).stdout)  # fmt: skip
        assert shown["status"] == "success", shown
        assert "delegat" not in shown["input"], shown
    finally:
        importer.stop()
