"""The house rules that `lint-imports` (setup.cfg) cannot see: cycles between single files,
imports hidden inside functions, and who reads the environment.

Read from the source with `ast`, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("domain", "projections", "adapters", "jobs")

# Imports deferred to the call on purpose: each pulls in an optional dependency (the command
# that does not need it must still run without it) or a heavy one. They count as edges in the
# cycle check all the same, so none can hide a cycle.
DEFERRED = {
    ("jobs.run", "jobs.monthly"): "scikit-learn: `jobs run monthly` says how to install it when it is missing",
    ("jobs.trainers.choice", "jobs.trainers.lora"): "torch and transformers: the [train] extra",
    # Not optional, but heavy: a backend loads only in a process configured to use it,
    ("adapters.bootstrap", "adapters.readmodels.mongodb"): "pymongo, when the read models are on MongoDB",
    (
        "adapters.bootstrap",
        "adapters.readmodels.postgresql",
    ): "psycopg and its pool, when the read models are on PostgreSQL",
    ("adapters.bootstrap", "adapters.kafka.relay_sink"): "librdkafka, when Kafka is configured",
    ("adapters.bootstrap", "adapters.kafka.feedback_consumer"): "librdkafka, when Kafka is configured",
    # and the web stack only for the commands that serve HTTP.
    ("adapters.cli.servers", "adapters.worker.serve"): "FastAPI, uvicorn (~14 MiB) for `serve` only",
    ("adapters.cli.servers", "adapters.web.app"): "FastAPI, uvicorn (~14 MiB) for `web` only",
}
ENVIRONMENT_READER = "adapters.config"


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _target(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(path: Path, modules: dict[str, Path]) -> list[tuple[str, bool]]:
    """(imported project module, at module level?) for every import statement in the file."""
    tree = ast.parse(path.read_text(), str(path))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from package import submodule` imports the submodule; `from module import name` the module.
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = _target(name, modules)
            if target is not None:
                found.append((target, id(node) in top_level))
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    return {name: {t for t, _ in imports_of(path, modules) if t != name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
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


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_two_files_import_each_other_even_inside_functions():
    graph = import_graph(project_modules())
    assert len(graph) > 100  # the whole project was read
    assert cycles(graph) == [], "import cycles (break each by moving the shared code down a layer)"


def test_imports_inside_functions_are_only_the_optional_dependencies():
    modules = project_modules()
    deferred = {
        (name, target)
        for name, path in modules.items()
        for target, at_top in imports_of(path, modules)
        if not at_top and target != name
    }
    assert deferred == set(DEFERRED), (
        "move these imports to the top of their module (or, for an optional "
        "dependency, list them in DEFERRED with the reason)"
    )


def _reads_environment(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "putenv"):
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in ("environ", "getenv", "environb") for alias in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_configuration_reads_the_environment():
    modules = project_modules()
    readers = {name: lines for name, path in modules.items() if (lines := _reads_environment(path))}
    assert set(readers) == {ENVIRONMENT_READER}, (
        f"read AGENT_LEARNING_* in adapters/config.py (Config.from_env) and pass the value down: {readers}"
    )


CLOCK_CALLS = {"now", "utcnow", "today", "time", "time_ns", "monotonic", "perf_counter"}
IO_MODULES = {
    "os",
    "io",
    "socket",
    "sqlite3",
    "subprocess",
    "pathlib",
    "shutil",
    "time",
    "random",
    "threading",
    "pymongo",
    "confluent_kafka",
    "requests",
    "httpx",
    "urllib",
}


def _clock_reads_and_io(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_CALLS:
            found.append(f"{path.name}:{node.lineno} calls .{node.func.attr}()")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            found.append(f"{path.name}:{node.lineno} opens a file")
        elif isinstance(node, ast.Import):
            found += [
                f"{path.name}:{node.lineno} imports {a.name}" for a in node.names if a.name.split(".")[0] in IO_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in IO_MODULES:
            found.append(f"{path.name}:{node.lineno} imports from {node.module}")
    return found


def test_the_domain_reads_no_clock_and_does_no_io():
    found = [line for path in sorted((ROOT / "domain").rglob("*.py")) for line in _clock_reads_and_io(path)]
    assert found == [], "the domain takes times and data as arguments; move the I/O to adapters/service"
