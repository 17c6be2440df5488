"""Apps depend one way, and no module imports itself round a cycle.

The layers, lowest first: clinic < consultations < bookings < practice < the apps above (api, operations and
those to come). A module may import from its own app and from lower apps, never from a higher one, and
"never" includes imports inside functions: a lower app that must trigger something higher offers a public
hook or sends a signal (see docs/architecture.md). Apps above practice share one layer; they may not import
each other either, so each can be removed without breaking the rest. One layer stands above them all: the
owner's reports (`ABOVE_TOP`), which read every app, payments included, and which nothing imports.

The test reads every module's source with `ast` (nothing is imported), like `/work/shared/tools/appgraph.py`.
Migrations are left out: Django writes them and they name other apps' models by string.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"clinic": 0, "consultations": 1, "bookings": 2, "practice": 3}
TOP_APPS = ("api", "operations")  # and the apps of the next wave, each in this top layer
TOP = max(LAYERS.values()) + 1
# Above the top layer: apps that read every app below, the top layer's included, and that nothing imports.
# The owner's reports read payments' money beside bookings, practice and consultations (reports/selectors.py).
ABOVE_TOP = {"reports": TOP + 1}
SKIPPED_FOLDERS = {".venv", "tests", "bench", "docs", "node_modules", "static", "templates", "var", "build"}


def project_modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in SKIPPED_FOLDERS or parts[0].startswith(".") or "migrations" in parts or len(parts) == 1:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def imported_names(name: str, path: Path) -> set[str]:
    """Every module name an import statement anywhere in the file (functions included) may refer to."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {
        name: {target for target in imported_names(name, path) if target in modules and target != name}
        for name, path in modules.items()
    }


def layer(module: str) -> int | None:
    app = module.split(".")[0]
    if app in LAYERS:
        return LAYERS[app]
    if app in ABOVE_TOP:
        return ABOVE_TOP[app]
    return TOP if app in TOP_APPS or (ROOT / app / "apps.py").exists() else None


def upward_imports(graph) -> list[str]:
    wrong = []
    for source, targets in graph.items():
        for target in targets:
            source_app, target_app = source.split(".")[0], target.split(".")[0]
            low, high = layer(source), layer(target)
            if source_app == target_app or low is None or high is None:
                continue
            if high > low or (high == low == TOP):
                wrong.append(f"{source} -> {target}")
    return sorted(wrong)


def cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_covers_every_app(graph):
    apps = {module.split(".")[0] for module in graph}
    assert set(LAYERS) | set(TOP_APPS) | set(ABOVE_TOP) <= apps
    assert "bookings.services" in graph["bookings.waitlist"]  # the graph really sees imports


def test_no_app_imports_a_higher_one(graph):
    assert upward_imports(graph) == []


def test_no_module_cycle(graph):
    assert cycles(graph) == []


def test_the_checks_catch_what_they_are_for():
    """The checks themselves, on a made-up graph: an upward import, a cycle, and a cycle via a function."""
    made_up = {
        "clinic.a": {"bookings.b"},
        "bookings.b": {"bookings.c"},
        "bookings.c": {"bookings.b"},
        "api.x": {"operations.y"},
        "operations.y": set(),
        "payments.z": {"reports.r"},
        "reports.r": {"payments.w"},
    }
    assert upward_imports(made_up) == ["api.x -> operations.y", "clinic.a -> bookings.b", "payments.z -> reports.r"]
    assert cycles(made_up) == [["bookings.b", "bookings.c"]]


def test_who_may_see_or_do_what_is_decided_in_clinic_access_only():
    """One home for access rules: no `may_*`/`can_*` predicate and no hand-made 'signed-in patient' guard
    (`getattr(user, "patient", ...)`) outside clinic/access.py; views use its guards."""
    strays = []
    for name, path in project_modules().items():
        if name == "clinic.access":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith(("may_", "can_", "_may_", "_can_")):
                strays.append(f"{name}.{node.name}")
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in ("getattr", "hasattr")
                and len(node.args) >= 2
                and ast.unparse(node.args[0]).endswith("user")
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value == "patient"
            ):
                strays.append(f"{name}:{node.lineno} looks up user.patient")
    assert strays == []


def _env_reads() -> list[str]:
    """The environment variables clinic/settings.py reads: env("X"), env.int("X"), ..."""
    tree = ast.parse((ROOT / "clinic" / "settings.py").read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        func = node.func
        if (isinstance(func, ast.Name) and func.id == "env") or (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env"
        ):
            names.append(node.args[0].value)
    return names


def test_every_setting_is_read_once_in_settings_and_documented():
    """One home per setting: each environment variable is read once (one default), and docs/settings.md has
    it in its table."""
    reads = _env_reads()
    # SECRET_KEY is read twice on purpose: with a development default in DEBUG, without one otherwise.
    twice = sorted({name for name in reads if reads.count(name) > 1} - {"SECRET_KEY"})
    assert twice == []
    table = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert [name for name in sorted(set(reads)) if f"`{name}`" not in table] == []


def test_no_module_reads_a_setting_with_a_default_of_its_own():
    """`getattr(settings, "X", default)` would be a second default, which can disagree with settings.py."""
    strays = []
    for name, path in project_modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "getattr"
                and len(node.args) == 3
                and ast.unparse(node.args[0]) == "settings"
            ):
                strays.append(f"{name}:{node.lineno}")
    assert strays == []
