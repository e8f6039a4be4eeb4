"""python-glanceclient's `glance md-*` commands against glint's metadata
definitions catalogue: namespaces, properties, objects, tags and resource
type associations, each created, listed, shown, updated and deleted as an
operator would from the shell. The client validates what it sends against
glint's /v2/schemas/metadefs/* documents, so these also check the schemas.
"""

import json
import uuid

import pytest

from helpers import parse_table, run_cli


@pytest.fixture(scope="module")
def glance(glint_url):
    def run(*args, check=True):
        return run_cli(
            ["glance", "--os-image-url", glint_url, "--os-auth-token", "any", *map(str, args)],
            check=check,
        )

    return run


@pytest.fixture()
def namespace(glance):
    name = f"OS::Compat::{uuid.uuid4().hex[:8]}"
    out = glance(
        "md-namespace-create", name,
        "--display-name", "Compat test",
        "--description", "made by the compat suite",
        "--visibility", "public",
    )
    table = parse_table(out.stdout)
    assert table["namespace"] == name
    yield name
    glance("md-namespace-delete", name, check=False)


def names_in(text):
    """The first column of a glanceclient list table."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            cell = line.strip().strip("|").split("|")[0].strip()
            rows.append(cell)
    return rows[1:]


def test_namespace_lifecycle(glance, namespace):
    shown = parse_table(glance("md-namespace-show", namespace).stdout)
    assert shown["display_name"] == "Compat test"
    assert shown["visibility"] == "public"
    assert namespace in names_in(glance("md-namespace-list").stdout)

    updated = parse_table(
        glance("md-namespace-update", namespace, "--description", "changed", "--protected", "True").stdout
    )
    assert updated["description"] == "changed"
    assert updated["protected"] == "True"
    refused = glance("md-namespace-delete", namespace, check=False)
    assert refused.returncode != 0
    assert "protected" in refused.stderr
    glance("md-namespace-update", namespace, "--protected", "False")


def test_properties(glance, namespace):
    schema = json.dumps({"enum": ["a", "b"], "description": "pick one"})
    created = parse_table(
        glance(
            "md-property-create", namespace,
            "--name", "choice", "--title", "Choice", "--type", "string", "--schema", schema,
        ).stdout
    )
    assert created["name"] == "choice"
    assert "choice" in names_in(glance("md-property-list", namespace).stdout)
    shown = parse_table(glance("md-property-show", namespace, "choice").stdout)
    assert shown["title"] == "Choice"
    assert "'a'" in shown["enum"] or '"a"' in shown["enum"]
    glance("md-property-update", namespace, "choice", "--title", "Choice 2")
    assert parse_table(glance("md-property-show", namespace, "choice").stdout)["title"] == "Choice 2"
    glance("md-property-delete", namespace, "choice")
    missing = glance("md-property-show", namespace, "choice", check=False)
    assert missing.returncode != 0
    glance("md-property-create", namespace, "--name", "x", "--title", "X", "--type", "integer", "--schema", "{}")
    glance("md-namespace-properties-delete", namespace)
    assert names_in(glance("md-property-list", namespace).stdout) == []


def test_objects(glance, namespace):
    schema = json.dumps({
        "description": "a pair",
        "required": ["left"],
        "properties": {"left": {"title": "Left", "type": "string"}},
    })
    created = parse_table(glance("md-object-create", namespace, "--name", "Pair", "--schema", schema).stdout)
    assert created["name"] == "Pair"
    assert "Pair" in names_in(glance("md-object-list", namespace).stdout)
    shown = parse_table(glance("md-object-show", namespace, "Pair").stdout)
    assert shown["description"] == "a pair"
    prop = parse_table(glance("md-object-property-show", namespace, "Pair", "left").stdout)
    assert prop["title"] == "Left"
    glance("md-object-update", namespace, "Pair", "--name", "Couple")
    assert "Couple" in names_in(glance("md-object-list", namespace).stdout)
    glance("md-object-delete", namespace, "Couple")
    glance("md-object-create", namespace, "--name", "Other", "--schema", "{}")
    glance("md-namespace-objects-delete", namespace)
    assert names_in(glance("md-object-list", namespace).stdout) == []


def test_tags(glance, namespace):
    created = parse_table(glance("md-tag-create", namespace, "--name", "single").stdout)
    assert created["name"] == "single"
    # Without --append the new tags replace the namespace's. (The client's
    # --append sends a boolean header value, which its own HTTP layer
    # cannot encode; the append itself is covered by the API tests.)
    glance("md-tag-create-multiple", namespace, "--names", "one;two;three", "--delim", ";")
    listed = names_in(glance("md-tag-list", namespace).stdout)
    assert sorted(listed) == ["one", "three", "two"]
    glance("md-tag-create-multiple", namespace, "--names", "only")
    assert names_in(glance("md-tag-list", namespace).stdout) == ["only"]
    glance("md-tag-update", namespace, "only", "--name", "renamed")
    assert parse_table(glance("md-tag-show", namespace, "renamed").stdout)["name"] == "renamed"
    glance("md-tag-delete", namespace, "renamed")
    glance("md-tag-create", namespace, "--name", "again")
    glance("md-namespace-tags-delete", namespace)
    assert names_in(glance("md-tag-list", namespace).stdout) == []


def test_resource_types(glance, namespace):
    glance(
        "md-resource-type-associate", namespace,
        "--name", "OS::Glance::Image", "--prefix", "compat_", "--properties-target", "image",
    )
    assert "OS::Glance::Image" in names_in(glance("md-resource-type-list").stdout)
    assert "OS::Glance::Image" in names_in(glance("md-namespace-resource-type-list", namespace).stdout)
    listed = glance("md-namespace-list", "--resource-types", "OS::Glance::Image").stdout
    assert namespace in names_in(listed)
    glance("md-property-create", namespace, "--name", "p", "--title", "P", "--type", "string", "--schema", "{}")
    shown = glance("md-namespace-show", namespace, "--resource-type", "OS::Glance::Image").stdout
    assert "compat_p" in shown
    glance("md-resource-type-deassociate", namespace, "OS::Glance::Image")
    assert names_in(glance("md-namespace-resource-type-list", namespace).stdout) == []


def test_import_a_namespace_file(glance, tmp_path):
    name = f"OS::Compat::Import{uuid.uuid4().hex[:6]}"
    doc = {
        "namespace": name,
        "display_name": "Imported",
        "visibility": "private",
        "properties": {"size": {"title": "Size", "type": "integer", "minimum": 1}},
        "objects": [{"name": "Obj", "properties": {"a": {"title": "A", "type": "boolean"}}}],
        "tags": [{"name": "imported"}],
        "resource_type_associations": [{"name": "OS::Nova::Flavor", "prefix": "imp:"}],
    }
    path = tmp_path / "ns.json"
    path.write_text(json.dumps(doc))
    glance("md-namespace-import", "--file", str(path))
    try:
        assert "size" in names_in(glance("md-property-list", name).stdout)
        assert names_in(glance("md-object-list", name).stdout) == ["Obj"]
        assert names_in(glance("md-tag-list", name).stdout) == ["imported"]
    finally:
        glance("md-namespace-delete", name)
