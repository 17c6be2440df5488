"""What the image and the compose file promise (docs/operations.md), read from the files themselves: there is
no Docker engine in CI to build or start them. .ci/run also has docker-compose validate the file, with and
without SECRET_KEY."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def pins(lock_file: str) -> dict[str, str]:
    text = (ROOT / lock_file).read_text()
    return {canonicalize_name(name): version for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.M)}


def test_every_dependency_is_pinned_and_the_image_gets_the_versions_developers_test():
    dev, prod = pins("requirements.lock"), pins("requirements-prod.lock")
    app = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    tools = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]]
    for requirement in app:
        name = canonicalize_name(requirement.name)
        assert name in prod, f"{name} is not in requirements-prod.lock: run make lock"
        assert requirement.specifier.contains(prod[name]), f"{name}=={prod[name]} is outside {requirement}: make lock"
    for requirement in tools:
        assert canonicalize_name(requirement.name) in dev, f"{requirement.name} is not in requirements.lock"
    assert {name: dev.get(name) for name in prod} == prod, "requirements-prod.lock must pin what requirements.lock pins"
    assert "--hash=sha256:" in (ROOT / "requirements-prod.lock").read_text()
    ruff = next(r for r in tools if r.name == "ruff")
    assert str(ruff.specifier).startswith("=="), "the linter is pinned exactly: a new release must not fail CI"


def test_every_app_of_the_project_goes_into_the_installed_package():
    """The image installs the code as a package (not the checkout): an app the package leaves out, or a
    non-Python file inside one (setuptools ships only .py files here), would be missing in production."""
    patterns = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    apps = sorted(path.parent.name for path in ROOT.glob("*/apps.py"))
    assert apps, "no Django apps found"
    for app in apps:
        assert any(re.fullmatch(p.replace("*", ".*"), app) for p in patterns), f"add {app}* to pyproject's include"
        stray = [
            str(path.relative_to(ROOT))
            for path in (ROOT / app).rglob("*")
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
        ]
        assert not stray, f"not shipped in the package: {stray} (templates go in templates/, assets in static/)"


def test_the_image_caches_dependencies_installs_no_editable_code_and_runs_unprivileged():
    lock_copy = DOCKERFILE.index("COPY requirements-prod.lock")
    assert lock_copy < DOCKERFILE.index("--require-hashes") < DOCKERFILE.index("COPY . /src")
    assert " -e " not in DOCKERFILE and "--editable" not in DOCKERFILE
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*healthcheck\.py", DOCKERFILE, re.M)
    assert "collectstatic" in DOCKERFILE
    assert len(re.findall(r"^FROM ", DOCKERFILE, re.M)) >= 2, "multi-stage: no build tools in the final image"


def test_compose_needs_a_secret_keeps_files_on_volumes_and_migrates_once():
    services = COMPOSE["services"]
    for name in ("migrate", "web", "worker", "beat"):
        environment = services[name]["environment"]
        assert re.fullmatch(r"\$\{SECRET_KEY:\?.+\}", environment["SECRET_KEY"]), f"{name} has a default secret"
        assert re.fullmatch(r"\$\{SITE_URL:\?.+\}", environment["SITE_URL"]), f"{name} has a default site address"
        mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in services[name]["volumes"]}
        assert mounts.get("/app/var/private") in COMPOSE["volumes"], "clinical photos must be on a named volume"
        assert mounts.get("/app/var/media") in COMPOSE["volumes"]
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "migrate" not in " ".join(services[name]["command"])
    replicas = {name: services[name]["deploy"]["replicas"] for name in ("web", "worker", "beat")}
    assert replicas == {"web": 2, "worker": 2, "beat": 1}
