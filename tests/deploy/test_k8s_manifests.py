"""deploy/k8s/*.yaml: every resource validates against Kubernetes' own schemas (kubernetes-validate
ships them: no cluster, no network), strictly (an unknown or misspelt field fails), and the
Indexed Job's shards start together: each pod runs its slice with one `--start-at` instant that
every pod reads from the same ConfigMap key."""

from __future__ import annotations

import copy
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from bench.cli import build_parser
from generator.distributed.start_at import parse_start_at

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
# The oldest release the manifests promise to (Indexed Jobs are GA since 1.24) and the newest the
# installed kubernetes-validate knows.
VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]


def _resources(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    assert docs, f"{path} holds no resource"
    return docs


def _manifests() -> list[Path]:
    found = sorted(K8S.glob("*.yaml"))
    assert found, f"no manifest under {K8S}"
    return found


def _job() -> dict[str, Any]:
    (job,) = [r for r in _resources(K8S / "job.yaml") if r["kind"] == "Job"]
    return job


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", _manifests(), ids=lambda p: p.name)
def test_every_manifest_validates_strictly(path: Path, version: str) -> None:
    for resource in _resources(path):
        kubernetes_validate.validate(resource, version, strict=True)


def _misspelt(job: dict[str, Any]) -> None:
    job["spec"]["paralelism"] = job["spec"].pop("parallelism")


def _wrong_type(job: dict[str, Any]) -> None:
    job["spec"]["completions"] = "four"


def _nameless_container(job: dict[str, Any]) -> None:
    del job["spec"]["template"]["spec"]["containers"][0]["name"]


def _env_without_name(job: dict[str, Any]) -> None:
    del job["spec"]["template"]["spec"]["containers"][0]["env"][-1]["name"]


@pytest.mark.parametrize("breaks", [_misspelt, _wrong_type, _nameless_container, _env_without_name])
def test_a_broken_manifest_fails_validation(breaks: Any) -> None:
    broken = copy.deepcopy(_job())
    breaks(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def test_every_shard_pod_gets_the_same_start_instant() -> None:
    job = _job()
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["parallelism"] == job["spec"]["completions"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    # From a ConfigMap made once per run, not from anything a pod computes for itself.
    ref = env["START_AT"]["valueFrom"]["configMapKeyRef"]
    assert set(env["START_AT"]["valueFrom"]) == {"configMapKeyRef"}
    assert ref.get("optional") is not True  # a Job without its instant does not start
    # The command as each pod's shell expands it parses as callbench flags, one slice each.
    script = " ".join(container["args"])
    values = {**{k: str(e["value"]) for k, e in env.items() if "value" in e}}
    values |= {"START_AT": "1796187600", "JOB_COMPLETION_INDEX": "3"}
    expanded = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], script)
    argv = shlex.split(expanded)
    assert argv[:2] == ["exec", "callbench"]
    args = build_parser().parse_args(argv[2:])
    assert args.start_at == "1796187600"
    assert args.shard == f"3/{values['SHARDS']}"
    assert int(values["SHARDS"]) == job["spec"]["completions"]
    assert parse_start_at(args.start_at, 1796187500.0) == 1796187600.0
    # The README's and the manifest's recipe for the ConfigMap names the key the Job reads.
    for doc in (K8S / "README.md", K8S / "job.yaml"):
        text = doc.read_text(encoding="utf-8")
        assert f"kubectl create configmap {ref['name']} --from-literal={ref['key']}=" in text


def test_the_recipes_instant_is_one_callbench_takes() -> None:
    recipe = (K8S / "README.md").read_text(encoding="utf-8")
    found = re.search(r"--from-literal=at=(\$\(\( \$\(date \+%s\) \+ (\d+) \)\))", recipe)
    assert found, "the README's recipe for the start instant"
    out = subprocess.run(
        ["sh", "-c", f"echo {found.group(1)}"], capture_output=True, text=True, check=True
    )
    now = time.time()
    at = parse_start_at(out.stdout.strip(), now)
    assert now + int(found.group(2)) - 2 <= at <= now + int(found.group(2)) + 1
