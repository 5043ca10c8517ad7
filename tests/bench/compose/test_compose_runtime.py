"""ComposeStack without a Docker engine: which files and project it names, how ``--set`` reaches
the compose CLI as variables, and a failing CLI turned into StackError. The engine-backed parts
(up, health, stats, kill, restart, down) run for real in scripts/compose-ci.sh."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from bench.errors import StackError
from bench.stack import compose
from bench.stack.assets import assets_dir
from bench.stack.compose import ComposeStack
from bench.stack.compose_config import settings_env
from bench.stack.overrides import validate


@pytest.fixture
def fake_compose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker-compose` on PATH that records its argv and environment, and fails on `boom`."""
    record = tmp_path / "calls.jsonl"
    script = tmp_path / "bin" / "docker-compose"
    script.parent.mkdir()
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys\n"
        f"open({str(record)!r}, 'a').write(json.dumps({{'argv': sys.argv[1:], "
        "'env': {k: v for k, v in os.environ.items() if k.isupper()}}) + '\\n')\n"
        "if 'boom' in sys.argv:\n"
        "    print('no such service: boom', file=sys.stderr)\n"
        "    sys.exit(1)\n"
        "print('services: {}')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    return record


def _calls(record: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in record.read_text().splitlines()]


def test_files_default_to_the_users_file_and_its_ports_override(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    packaged = assets_dir()
    files = compose.default_files()
    assert files == [packaged / "docker-compose.yml", packaged / "docker-compose.override.yml"]
    # The packaged files are the checkout's own (links), not copies that could drift.
    root = Path(__file__).resolve().parents[3]
    assert [f.resolve() for f in files] == [
        root / "docker-compose.yml",
        root / "docker-compose.override.yml",
    ]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COMPOSE_FILE", os.pathsep.join(["docker-compose.yml", "ci.yml"]))
    assert compose.default_files() == [tmp_path / "docker-compose.yml", tmp_path / "ci.yml"]


def test_compose_names_project_and_files_and_passes_the_variables(
    fake_compose: Path, tmp_path: Path
) -> None:
    stack = ComposeStack(tmp_path, files=[Path("a.yml"), Path("b.yml")], project="proj")
    stack._env = {"BACKEND_DB_POOL_MAX": "50"}
    assert stack.config() == {"services": {}}
    (call,) = _calls(fake_compose)
    # Absolute file names: compose resolves the files' relative paths from the first file's folder.
    a, b = (str(Path("a.yml").absolute()), str(Path("b.yml").absolute()))
    assert call["argv"] == ["-p", "proj", "-f", a, "-f", b, "config"]
    env = call["env"]
    assert isinstance(env, dict)
    assert env["BACKEND_DB_POOL_MAX"] == "50"
    # The files' mounts and builds read the packaged folder, by an absolute path.
    assert env["CALLBENCH_ASSETS"] == str(assets_dir())
    assert Path(env["CALLBENCH_ASSETS"], "prometheus", "prometheus.yml").is_file()


def test_a_failing_compose_command_is_a_stack_error_with_its_output(
    fake_compose: Path, tmp_path: Path
) -> None:
    stack = ComposeStack(tmp_path, project="proj")
    with pytest.raises(StackError, match="no such service: boom"):
        stack.compose("up", "boom")


def test_bad_overrides_are_refused_before_anything_starts(
    fake_compose: Path, tmp_path: Path
) -> None:
    stack = ComposeStack(tmp_path, {"postgres.max_connections": "2", "nope.x": "1"})
    with pytest.raises(Exception, match="nope") as caught:
        stack.up()
    assert "max_connections" in str(caught.value)
    assert not fake_compose.exists()


def test_pgbouncer_route_sets_the_backend_database_address(tmp_path: Path) -> None:
    env = settings_env(validate({"backend.db_via": "pgbouncer"}), tmp_path)
    assert env["BACKEND_DB_HOST"] == "pgbouncer"
    assert env["BACKEND_DB_STATEMENT_CACHE_SIZE"] == "0"


def test_an_installed_callbench_without_the_image_says_how_to_get_it(
    fake_compose: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wheel carries no Dockerfile or sources: without the image, `up` stops before compose
    tries a build, naming the image and the way out; nothing is started."""
    import docker

    class Images:
        def get(self, name: str) -> None:
            raise docker.errors.ImageNotFound(f"no such image: {name}")

    class Client:
        images = Images()

    monkeypatch.setattr(compose, "require_engine", lambda: None)
    monkeypatch.setattr(compose, "checkout_root", lambda: None)  # as from site-packages
    monkeypatch.setattr(ComposeStack, "_client", lambda self: Client())
    monkeypatch.setattr(ComposeStack, "_containers", lambda self, service=None: [])
    stack = ComposeStack(tmp_path / "state", project="proj")
    with pytest.raises(StackError, match=r"callbench:latest is not built.*docker-compose build"):
        stack.up()
    argvs = [call["argv"] for call in _calls(fake_compose)]
    assert [argv for argv in argvs if isinstance(argv, list) and "up" in argv] == []
    assert argvs
    assert all(isinstance(a, list) and a[-1] == "config" for a in argvs)
