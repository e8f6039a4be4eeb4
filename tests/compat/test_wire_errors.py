"""Error bodies and headers on the wire, checked with plain HTTP (requests)."""

import re
import uuid

import pytest

JSON = {"Accept": "application/json"}
PATCH_TYPES = {
    "application/openstack-images-v2.0-json-patch",
    "application/openstack-images-v2.1-json-patch",
}
REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def queued_image(http, cleanup, unique):
    response = http.post(
        http.url("/v2/images"),
        json={"name": unique, "disk_format": "raw", "container_format": "bare"},
    )
    assert response.status_code == 201, response.text
    cleanup.append(response.json()["id"])
    return response.json()


def assert_error_body(response, status, title, message_part):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) >= {"message", "code", "title"}, body
    assert body["code"] == f"{status} {title}"
    assert body["title"] == title
    assert message_part in body["message"], body


def test_show_unknown_id_is_404_json(http):
    response = http.get(http.url("/v2/images/not-a-uuid"), headers=JSON)
    assert_error_body(response, 404, "Not Found", "No image found with ID not-a-uuid")


def test_show_missing_uuid_is_404_json(http):
    image_id = str(uuid.uuid4())
    response = http.get(http.url(f"/v2/images/{image_id}"), headers=JSON)
    assert_error_body(response, 404, "Not Found", f"No image found with ID {image_id}")


def test_patch_with_plain_json_is_415_with_accept_patch(http, queued_image):
    response = http.patch(
        http.url(f"/v2/images/{queued_image['id']}"),
        json=[{"op": "replace", "path": "/name", "value": "x"}],
        headers={**JSON, "Content-Type": "application/json"},
    )
    assert response.status_code == 415, response.text
    offered = {t.strip() for t in response.headers["Accept-Patch"].split(",")}
    assert offered == PATCH_TYPES


def test_patch_read_only_status_is_403(http, queued_image):
    response = http.patch(
        http.url(f"/v2/images/{queued_image['id']}"),
        json=[{"op": "replace", "path": "/status", "value": "active"}],
        headers={**JSON, "Content-Type": "application/openstack-images-v2.1-json-patch"},
    )
    assert_error_body(response, 403, "Forbidden", "Attribute 'status' is read-only.")


def test_create_with_malformed_json_is_400(http):
    response = http.post(
        http.url("/v2/images"),
        data="not json",
        headers={**JSON, "Content-Type": "application/json"},
    )
    assert_error_body(response, 400, "Bad Request", "Malformed JSON in request body.")


def test_bad_sort_key_and_limit_are_400(http):
    response = http.get(http.url("/v2/images?sort_key=nope"), headers=JSON)
    assert_error_body(response, 400, "Bad Request", "Invalid sort key: nope.")
    response = http.get(http.url("/v2/images?limit=-1"), headers=JSON)
    assert_error_body(response, 400, "Bad Request", "limit param must be positive")


def test_create_answers_201_with_location_and_import_headers(http, cleanup, unique):
    response = http.post(
        http.url("/v2/images"),
        json={"name": unique, "disk_format": "raw", "container_format": "bare"},
    )
    assert response.status_code == 201
    body = response.json()
    cleanup.append(body["id"])
    assert response.headers["Location"].endswith(f"/v2/images/{body['id']}")
    # Glance advertises the enabled import methods on create, when there are any.
    info = http.get(http.url("/v2/info/import"))
    methods = info.json()["import-methods"]["value"] if info.status_code == 200 else []
    if methods:
        advertised = response.headers.get("OpenStack-image-import-methods", "")
        assert advertised.split(",") == methods
    assert body["visibility"] == "shared"
    assert body["status"] == "queued"
    assert body["self"] == f"/v2/images/{body['id']}"
    assert body["file"] == f"/v2/images/{body['id']}/file"
    assert body["schema"] == "/v2/schemas/image"


def test_download_of_queued_image_is_204(http, queued_image):
    response = http.get(http.url(f"/v2/images/{queued_image['id']}/file"))
    assert response.status_code == 204


def assert_request_ids(responses):
    for response in responses:
        request_id = response.headers.get("x-openstack-request-id", "")
        assert REQUEST_ID.match(request_id), (
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"x-openstack-request-id {request_id!r}"
        )
    ids = [r.headers["x-openstack-request-id"] for r in responses]
    assert len(set(ids)) == len(ids), "request ids must be unique"


def test_every_api_response_carries_a_request_id(http, queued_image):
    image_url = http.url(f"/v2/images/{queued_image['id']}")
    assert_request_ids([
        http.get(http.url("/v2/images")),
        http.get(image_url),
        http.get(http.url("/v2/schemas/image")),
        http.get(http.url("/v2/images/not-a-uuid"), headers=JSON),
        http.patch(image_url, json=[], headers={"Content-Type": "application/json"}),
        http.get(image_url + "/file"),
        http.post(http.url("/v2/images"), data="not json"),
    ])


def test_version_documents_carry_a_request_id_too(http):
    # Glance answers these from its version-negotiation filter, before the
    # middleware that adds the header; glint sets it on every response.
    assert_request_ids([http.get(http.url("/versions")), http.get(http.url("/"))])


def test_versions_document(http):
    response = http.get(http.url("/versions"))
    assert response.status_code == 200
    versions = {v["id"]: v["status"] for v in response.json()["versions"]}
    assert versions.get("v2.17") == "CURRENT", versions
    root = http.get(http.url("/"))
    assert root.status_code == 300
    assert root.json() == response.json()
