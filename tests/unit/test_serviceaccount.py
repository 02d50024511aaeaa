"""templates/serviceaccount.yaml."""


def test_should_create_service_account_without_token_by_default(default):
    sa = default.get("ServiceAccount", "rel-pytorch")
    assert sa["automountServiceAccountToken"] is False
    assert default.pod_spec()["serviceAccountName"] == "rel-pytorch"
    assert default.pod_spec()["automountServiceAccountToken"] is False


def test_should_name_created_service_account(render):
    m = render({"serviceAccount": {"name": "trainer", "annotations": {"iam.gke.io/gsa": "ml@p.iam"}}})
    assert m.get("ServiceAccount", "trainer")["metadata"]["annotations"] == {"iam.gke.io/gsa": "ml@p.iam"}
    assert m.pod_spec()["serviceAccountName"] == "trainer"


def test_should_use_existing_service_account_when_not_creating(render):
    m = render({"serviceAccount": {"create": False, "name": "existing"}})
    assert m.find("ServiceAccount") is None
    assert m.pod_spec()["serviceAccountName"] == "existing"


def test_should_fall_back_to_default_service_account(render):
    assert render({"serviceAccount": {"create": False}}).pod_spec()["serviceAccountName"] == "default"


def test_should_mount_token_when_asked(render):
    m = render({"serviceAccount": {"automountServiceAccountToken": True}})
    assert m.pod_spec()["automountServiceAccountToken"] is True
    assert m["ServiceAccount"]["automountServiceAccountToken"] is True
