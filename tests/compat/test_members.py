"""Image members (sharing) through python-glanceclient, as two projects.

Without Keystone glint trusts the identity headers: each project gets its
own glanceclient whose HTTP session carries them. (glanceclient's own
`identity_headers` option percent-encodes values, so `member,reader` would
arrive as the single role `member%2Creader`.) The `glance member-*`
commands run as the default no-auth admin.
"""

import io
import uuid

import pytest
from glanceclient import exc as glance_exc

from helpers import parse_table, run_cli


def client_as(glint_url, project, roles="member,reader"):
    import glanceclient

    client = glanceclient.Client("2", endpoint=glint_url, token="any")
    client.http_client.session.headers.update(
        {"X-Project-Id": project, "X-User-Id": f"user-{project}", "X-Roles": roles}
    )
    return client


@pytest.fixture
def projects():
    """Two project ids of this test only, so runs never see each other's images."""
    tag = uuid.uuid4().hex[:8]
    return f"owner-{tag}", f"consumer-{tag}"


@pytest.fixture
def owner(glint_url, projects):
    return client_as(glint_url, projects[0])


@pytest.fixture
def consumer(glint_url, projects):
    return client_as(glint_url, projects[1])


@pytest.fixture
def shared_image(owner, unique):
    image = owner.images.create(
        name=unique, visibility="shared", disk_format="raw", container_format="bare"
    )
    owner.images.upload(image["id"], io.BytesIO(b"shared bytes"))
    yield image
    try:
        owner.images.delete(image["id"])
    except glance_exc.HTTPNotFound:
        pass


def ids(images):
    return [image["id"] for image in images]


def test_member_lifecycle(owner, consumer, projects, shared_image):
    image_id, member_id = shared_image["id"], projects[1]

    member = owner.image_members.create(image_id, member_id)
    assert member["image_id"] == image_id
    assert member["member_id"] == member_id
    assert member["status"] == "pending"
    assert member["schema"] == "/v2/schemas/member"
    assert [m["member_id"] for m in owner.image_members.list(image_id)] == [member_id]
    assert owner.image_members.get(image_id, member_id)["status"] == "pending"

    # Pending: readable by id, listed only when asked for.
    assert consumer.images.get(image_id)["name"] == shared_image["name"]
    assert image_id not in ids(consumer.images.list())
    assert image_id in ids(consumer.images.list(filters={"member_status": "pending"}))
    assert b"".join(consumer.images.data(image_id)) == b"shared bytes"

    accepted = consumer.image_members.update(image_id, member_id, "accepted")
    assert accepted["status"] == "accepted"
    assert image_id in ids(consumer.images.list())
    assert [m["status"] for m in consumer.image_members.list(image_id)] == ["accepted"]

    rejected = consumer.image_members.update(image_id, member_id, "rejected")
    assert rejected["status"] == "rejected"
    assert image_id not in ids(consumer.images.list())
    assert image_id in ids(consumer.images.list(filters={"member_status": "rejected"}))

    owner.image_members.delete(image_id, member_id)
    assert list(owner.image_members.list(image_id)) == []
    with pytest.raises(glance_exc.HTTPNotFound):
        consumer.images.get(image_id)


def test_member_errors(owner, consumer, projects, shared_image):
    image_id, member_id = shared_image["id"], projects[1]
    owner.image_members.create(image_id, member_id)

    with pytest.raises(glance_exc.HTTPConflict):
        owner.image_members.create(image_id, member_id)
    # Only the member decides its status; the owner is refused.
    with pytest.raises(glance_exc.HTTPForbidden):
        owner.image_members.update(image_id, member_id, "accepted")
    # Only the owner shares the image further.
    with pytest.raises(glance_exc.HTTPForbidden):
        consumer.image_members.create(image_id, f"{member_id}-other")
    with pytest.raises(glance_exc.HTTPBadRequest):
        consumer.image_members.update(image_id, member_id, "maybe")
    with pytest.raises(glance_exc.HTTPNotFound):
        owner.image_members.get(image_id, f"{member_id}-unknown")


def test_private_image_has_no_members(owner, projects, unique):
    image = owner.images.create(name=unique, visibility="private")
    try:
        with pytest.raises(glance_exc.HTTPForbidden) as refused:
            owner.image_members.create(image["id"], projects[1])
        assert f"Not allowed to create members for image {image['id']}." in str(refused.value)
    finally:
        owner.images.delete(image["id"])


def table_rows(text):
    """The rows of glanceclient's print_list table, as dicts by column name."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]
    header = split(lines[0])
    return [dict(zip(header, split(line))) for line in lines[1:]]


def test_glance_member_commands(glint_url, unique):
    def glance(*args):
        return run_cli(
            ["glance", "--os-image-url", glint_url, "--os-auth-token", "any", *args]
        ).stdout

    image_id = None
    try:
        out = glance(
            "image-create", "--name", unique, "--visibility", "shared",
            "--disk-format", "raw", "--container-format", "bare",
        )
        image_id = next(
            line.split("|")[2].strip()
            for line in out.splitlines()
            if line.startswith("| id ")
        )
        project = f"project-{unique}"
        created = table_rows(glance("member-create", image_id, project))
        assert created == [{"Image ID": image_id, "Member ID": project, "Status": "pending"}]
        listed = table_rows(glance("member-list", "--image-id", image_id))
        assert listed == created
        updated = table_rows(glance("member-update", image_id, project, "accepted"))
        assert updated[0]["Status"] == "accepted"
        shown = parse_table(glance("member-get", image_id, project))
        assert shown["member_id"] == project and shown["status"] == "accepted"
        glance("member-delete", image_id, project)
        assert table_rows(glance("member-list", "--image-id", image_id)) == []
    finally:
        if image_id:
            glance("image-delete", image_id)


def test_openstacksdk_members(sdk, unique):
    image = sdk.image.create_image(
        name=unique, visibility="shared", disk_format="raw", container_format="bare",
        allow_duplicates=True,
    )
    project = f"project-{unique}"
    try:
        added = sdk.image.add_member(image, member=project)
        assert added.status == "pending"
        listed = list(sdk.image.members(image))
        assert [m.status for m in listed] == ["pending"]
        updated = sdk.image.update_member(project, image, status="accepted")
        assert updated.status == "accepted"
        assert sdk.image.get_member(project, image).status == "accepted"
        sdk.image.remove_member(project, image)
        assert list(sdk.image.members(image)) == []
    finally:
        sdk.image.delete_image(image, ignore_missing=True)
