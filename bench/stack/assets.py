"""Where the stack's files are: package data under ``bench/assets/`` (the Prometheus template and
alert rules, Grafana's provisioning and dashboards, the compose files and what they mount or
build), read through ``importlib.resources`` so an installed ``callbench`` finds them in
site-packages as a checkout does in its tree.

The compose files' own paths go through ``CALLBENCH_ASSETS`` (defaulting to the checkout's
``./bench/assets``); ``compose_env()`` gives that variable its absolute value, and
``CALLBENCH_BUILD_CONTEXT`` the checkout when there is one (a wheel carries no Dockerfile or
sources to build the image from: see docs/compose.md).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from bench.errors import StackError


def assets_dir() -> Path:
    """``bench/assets`` of the imported ``bench`` package, as an absolute directory (docker
    mounts and child processes need a real path, so a zipped install is refused here)."""
    path = Path(str(resources.files("bench") / "assets")).absolute()
    if not path.is_dir():
        raise StackError(
            "assets", f"{path} is missing: reinstall callbench (its package data is incomplete)"
        )
    return path


def asset(relative: str) -> Path:
    """One packaged file, e.g. ``asset("prometheus/alerts.yml")``; StackError when missing."""
    path = assets_dir() / relative
    if not path.is_file():
        raise StackError(
            "assets", f"{path} is missing: reinstall callbench (its package data is incomplete)"
        )
    return path


def read_asset(relative: str) -> str:
    return asset(relative).read_text(encoding="utf-8")


def checkout_root() -> Path | None:
    """The source checkout the ``bench`` package was imported from (it holds the Dockerfile and
    pyproject.toml the callbench image is built from), or None for an installed wheel."""
    root = Path(str(resources.files("bench"))).absolute().parent
    if (root / "pyproject.toml").is_file() and (root / "Dockerfile").is_file():
        return root
    return None


def compose_env() -> dict[str, str]:
    """The variables the compose files read their paths from, all absolute."""
    env = {
        "CALLBENCH_ASSETS": str(assets_dir()),
        # No nested defaults in docker-compose 1.x: the files the overrides may replace.
        "REALTIME_FAULTS_FILE": str(asset("compose/realtime-faults.json")),
        "BACKEND_CONFIG_FILE": str(asset("compose/backend.json")),
    }
    root = checkout_root()
    if root is not None:
        env["CALLBENCH_BUILD_CONTEXT"] = str(root)
    return env
