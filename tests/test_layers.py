"""The library's layers: no import cycle in vae/, no Streamlit outside vae/ui, and opening a
model goes down the layers (vae/versions.py describes the trip).

Imports are read with `ast` from the source, function-level ones included: an import inside
a function closes a cycle as surely as one at the top, only later.
"""
import ast
import graphlib
import sys

import pytest

from conftest import REPO_ROOT


def module_names(root):
    """{dotted module name: path} of every .py file under the package directory `root`."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imported_names(name, path):
    """Every dotted name the module imports anywhere in its source, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)  # `from vae import knn`


def import_graph(root):
    """{module: set of modules of the same package it imports}."""
    names = module_names(root)
    return {name: {other for other in imported_names(name, path) if other in names and other != name}
            for name, path in names.items()}


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        return list(reversed(err.args[1]))
    return None


def test_vae_has_no_import_cycle():
    cycle = find_cycle(import_graph(REPO_ROOT / "vae"))
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_the_cycle_check_finds_a_cycle_closed_inside_a_function(tmp_path):
    """Control: the check above can fail, on the shape the old vae/ had (a → b at the top,
    b → a inside a function)."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("def f():\n    from .a import thing\n")
    (package / "c.py").write_text("import pkg.a\n")
    cycle = find_cycle(import_graph(package))
    assert cycle is not None and set(cycle) == {"pkg.a", "pkg.b"}


def test_no_streamlit_outside_vae_ui():
    """The library runs without Streamlit (CLIs, the trainer, tests); only vae/ui may use it,
    and nothing outside vae/ui imports vae/ui."""
    offenders = []
    for name, path in module_names(REPO_ROOT / "vae").items():
        if name == "vae.ui" or name.startswith("vae.ui."):
            continue
        bad = [imported for imported in imported_names(name, path)
               if imported.split(".")[0] == "streamlit" or imported.startswith("vae.ui")]
        offenders += [f"{name} imports {imported}" for imported in bad]
    assert offenders == []


def descendants(graph, name):
    seen, todo = set(), [name]
    while todo:
        for other in graph.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def calls_between_modules(action):
    """(caller module, callee module) of every call from one vae module into another made by
    action(), in order."""
    calls = []

    def profile(frame, event, arg):
        if event != "call":
            return
        callee = frame.f_globals.get("__name__", "")
        caller = frame.f_back.f_globals.get("__name__", "") if frame.f_back else ""
        if callee != caller and callee.startswith("vae.") and caller.startswith("vae."):
            calls.append((caller, callee))

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("browser_files", ["kept", "made now"])
def test_opening_a_model_goes_down_the_layers(tmp_path, browser_files):
    import shutil

    from vae.browser_files import CODES_FILE
    from vae.explorer import open_explorer

    model_dir = tmp_path / "reference"
    shutil.copytree(REPO_ROOT / "models" / "reference", model_dir)
    if browser_files == "made now":  # an older version: the open makes them, with TensorFlow
        (model_dir / CODES_FILE).unlink()
    calls = calls_between_modules(lambda: open_explorer(model_dir))
    graph = import_graph(REPO_ROOT / "vae")
    upward = sorted({(a, b) for a, b in calls if b not in descendants(graph, a)})
    assert upward == [], f"calls that climb back up: {upward}"
    # The explorer asks its version for everything: metadata, dataset, test set, browser files
    # (and uses the model its version loaded to make them, if it did).
    asked = {callee for caller, callee in calls if caller == "vae.explorer"}
    assert asked == ({"vae.versions"} if browser_files == "kept" else {"vae.versions", "vae.model"})
    entered_from = {}
    for caller, callee in calls:
        entered_from.setdefault(callee, set()).add(caller)
    assert entered_from["vae.browser_files"] == {"vae.versions"}
    assert entered_from["vae.store"] <= {"vae.versions", "vae.browser_files"}
