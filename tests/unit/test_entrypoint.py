"""What the PyTorch container runs (entrypoint.file, entrypoint.args, examples.enabled)."""
import pytest

CM = {"configMap": "code"}


def test_should_wait_for_kubectl_exec_without_entrypoint(default):
    c = default.container()
    assert c["command"] == ["sleep", "infinity"] and "args" not in c


def test_should_run_entrypoint_file_from_app(render):
    c = render({**CM, "entrypoint": {"file": "train.py"}}).container()
    assert c["command"] == ["python", "/app/train.py"] and "args" not in c
    assert c["workingDir"] == "/app"


def test_should_run_absolute_entrypoint_without_files(render):
    c = render({"entrypoint": {"file": "/opt/code/train.py"}}).container()
    assert c["command"] == ["python", "/opt/code/train.py"]
    assert "workingDir" not in c


def test_should_pass_each_list_item_as_one_argument_unchanged(render):
    args = ["--name", "two words", "--expr", "$$(HOME); rm -rf /", "--quote", "it's \"quoted\"", 3, True]
    c = render({**CM, "entrypoint": {"file": "train.py", "args": args}}).container()
    assert c["args"] == ["--name", "two words", "--expr", "$$(HOME); rm -rf /", "--quote", "it's \"quoted\"", "3", "true"]


def test_should_split_string_args_on_whitespace(render):
    c = render({**CM, "entrypoint": {"file": "train.py", "args": "  --epochs 10\t--lr   0.1 "}}).container()
    assert c["args"] == ["--epochs", "10", "--lr", "0.1"]


def test_should_take_args_from_set(render):
    c = render(CM, "entrypoint.file=train.py", "entrypoint.args={--epochs,5}").container()
    assert c["args"] == ["--epochs", "5"]


def test_should_run_example_when_examples_enabled(render):
    c = render({"examples": {"enabled": True}}, "mode=distributed", "worldSize=2").container()
    assert c["command"] == ["python", "/app/ddp_train.py"]


def test_should_prefer_entrypoint_file_over_example(render):
    c = render({"examples": {"enabled": True}, "entrypoint": {"file": "ddp_train.py", "args": ["--steps", "2"]}}).container()
    assert c["command"] == ["python", "/app/ddp_train.py"] and c["args"] == ["--steps", "2"]
