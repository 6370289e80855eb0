"""The front door and the rooms: the root holds app.py alone as a Python module, no module
of the project imports itself back through others, and a lower room never imports a higher
one.

Imports are read from the source with ``ast``: one inside a function, under
``if TYPE_CHECKING`` or relative (``from . import x``) counts as much as one at the top.
tests/ and bench/ may import anything and are not read.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_READ = {"tests", "bench"}
# From the lowest room up. A module may import its own room's modules and those of the
# rooms below it; rooms on one level do not import each other.
LEVELS = {"scheduling": 0, "hotline": 1, "staff": 2, "web": 3, "app": 4, "migrations": 4}


def modules(root: Path) -> dict[str, Path]:
    """Every Python file of the project, by its dotted name (a package by its folder's)."""
    found = {}
    for top in sorted(root.iterdir()):
        if top.name.startswith(".") or top.name in NOT_READ or (top / "pyvenv.cfg").exists():
            continue
        files = [top] if top.suffix == ".py" else sorted(top.rglob("*.py")) if top.is_dir() else []
        for path in files:
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_by(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that the module ``name`` imports, wherever in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(_nearest(alias.name, known) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                above = package.split(".")[: len(package.split(".")) - (node.level - 1)] if package else []
                base = ".".join([*above, *([base] if base else [])])
            for alias in node.names:
                # `from staff import nav` imports the module staff.nav; `from staff import csrf`
                # a name defined in staff/__init__.py.
                submodule = f"{base}.{alias.name}" if base else alias.name
                targets.add(submodule if submodule in known else _nearest(base, known))
    targets.discard(None)
    targets.discard(name)
    return targets


def _nearest(dotted: str, known: set[str]) -> str | None:
    """The module itself, or the innermost package of it that is the project's."""
    parts = dotted.split(".")
    while parts:
        if ".".join(parts) in known:
            return ".".join(parts)
        parts.pop()
    return None


def import_graph(root: Path) -> dict[str, set[str]]:
    found = modules(root)
    return {name: imported_by(name, path, set(found)) for name, path in found.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the chain of modules back to the first, or None."""
    done: set[str] = set()
    chain: list[str] = []
    on_chain: set[str] = set()

    def visit(name: str) -> list[str] | None:
        chain.append(name)
        on_chain.add(name)
        for target in sorted(graph.get(name, ())):
            if target in on_chain:
                return chain[chain.index(target):] + [target]
            if target not in done:
                cycle = visit(target)
                if cycle:
                    return cycle
        chain.pop()
        on_chain.discard(name)
        done.add(name)
        return None

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def room(name: str) -> str:
    return name.split(".")[0]


def test_the_root_holds_app_py_alone():
    assert sorted(path.name for path in ROOT.glob("*.py")) == ["app.py"], (
        "the root is a front door: put the module in the package whose name says what it holds")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT)


def test_no_module_imports_itself_back(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_lower_room_never_imports_a_higher_one(graph):
    unplaced = sorted({room(name) for name in graph} - set(LEVELS))
    assert unplaced == [], f"place {unplaced} among the rooms in LEVELS"
    upward = sorted(f"{name} imports {target}" for name, targets in graph.items() for target in targets
                    if room(name) != room(target) and LEVELS[room(name)] <= LEVELS[room(target)])
    assert upward == [], "a lower room imports a higher one: " + "; ".join(upward)


def test_the_graph_holds_the_imports_inside_functions(graph):
    assert "hotline.messaging" in graph["web.worker"]  # inside sender_from_config
    assert "hotline.phone" in graph["web.cli"]  # inside the `phone sms` command
    assert "web.cli" in graph["app"]  # inside create_app


def write(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    root = write(tmp_path, {
        "app.py": "from web import cli\n",
        "web/__init__.py": "",
        "web/cli.py": "def init_app(app):\n    from app import make_worker\n",
    })
    assert find_cycle(import_graph(root)) == ["app", "web.cli", "app"]


def test_a_cycle_through_relative_imports_is_found(tmp_path):
    root = write(tmp_path, {
        "staff/__init__.py": "from . import desk\n",
        "staff/desk.py": "from .desk_appointment import move\n",
        "staff/desk_appointment.py": "from . import desk\n",
        "staff/admin/__init__.py": "from ..desk import board\n",
    })
    graph = import_graph(root)
    assert graph["staff.admin"] == {"staff.desk"}
    assert find_cycle(graph) == ["staff.desk", "staff.desk_appointment", "staff.desk"]


def test_a_package_importing_its_own_pages_is_no_cycle(tmp_path):
    # Each page imports a sibling (`from staff import nav`), and staff/__init__.py imports
    # each page so its routes join the blueprint: a module, not its package, is imported.
    root = write(tmp_path, {
        "staff/__init__.py": "from staff import desk, nav\nfrom staff.views import bp\n",
        "staff/nav.py": "",
        "staff/views.py": "from staff import nav\n",
        "staff/desk.py": "from staff import nav\nfrom staff.views import bp\n",
    })
    assert find_cycle(import_graph(root)) is None
