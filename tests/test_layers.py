"""The library's layers: each folder of vae/ is a floor, and a module imports only its own
floor and those below it; no import cycle; no Streamlit outside vae/ui; and opening a model
goes down the layers (vae/store/versions.py describes the trip).

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


# The floors, from the bottom up: a module's floor is its longest matching prefix.
FLOORS = (
    ("settings and data", ("vae.settings", "vae.operator_password", "vae.error_text", "vae.data")),
    ("the model and its maths", ("vae.ml",)),
    ("the store", ("vae.store",)),
    ("the command lines", ("vae.train", "vae.evaluate")),
    ("jobs and the explorer", ("vae.jobs", "vae.trainer", "vae.explorer")),
    ("the page", ("vae.ui",)),
)


def floor_of(module):
    """(floor number, floor name) of a vae module; 0 for the package itself."""
    best = (0, "the package", "")
    for number, (floor, prefixes) in enumerate(FLOORS, start=1):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best[2]):
                best = (number, floor, prefix)
    return best[:2]


def upward_imports(graph):
    """["a (floor) imports b (a higher floor)", ...] for every import that climbs."""
    return sorted(f"{module} ({floor_of(module)[1]}) imports {other} ({floor_of(other)[1]})"
                  for module, imported in graph.items() for other in imported
                  if floor_of(other)[0] > floor_of(module)[0])


def test_every_module_has_a_floor():
    assert [name for name in module_names(REPO_ROOT / "vae") if floor_of(name)[0] == 0] == ["vae"]


def test_no_module_imports_a_higher_floor():
    """Function-level imports count: the model and its maths never reach the store, the
    store never reaches jobs or the explorer, and nothing below the page imports it."""
    assert upward_imports(import_graph(REPO_ROOT / "vae")) == []


def test_the_floor_check_finds_an_import_inside_a_function(tmp_path):
    """Control: the check above fails on the shape the old vae/train.py had (the training
    code importing the store inside a function)."""
    package = tmp_path / "vae"
    for sub in ("ml", "store"):
        (package / sub).mkdir(parents=True)
        (package / sub / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "store" / "location.py").write_text("import os\n")
    (package / "ml" / "fit.py").write_text("def train_and_save():\n    from vae.store.location import join\n")
    assert upward_imports(import_graph(package)) == [
        "vae.ml.fit (the model and its maths) imports vae.store.location (the store)"]


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

    from vae.store.browser_files import CODES_FILE
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
    assert asked == ({"vae.store.versions"} if browser_files == "kept" else {"vae.store.versions", "vae.ml.model"})
    entered_from = {}
    for caller, callee in calls:
        entered_from.setdefault(callee, set()).add(caller)
    assert entered_from["vae.store.browser_files"] == {"vae.store.versions"}
    assert entered_from["vae.store.disk"] <= {"vae.store.versions", "vae.store.browser_files"}


def climbing_calls(calls):
    graph = import_graph(REPO_ROOT / "vae")
    return sorted({(a, b) for a, b in calls if b not in descendants(graph, a)})


def test_the_call_check_sees_a_callback_that_climbs(tmp_path, monkeypatch):
    """Control: the shape Version.refetch had (a lambda of vae.store.s3 stored in a Version and
    called from vae.store.versions, which does not import s3) counts as a climb."""
    import dataclasses

    from vae.store.s3 import link
    from vae.store.versions import open_dir
    version = open_dir(REPO_ROOT / "models" / "reference")
    climbing = dataclasses.replace(version, path=tmp_path, refetch=link.endpoint)  # any s3 function
    calls = calls_between_modules(lambda: climbing.model_file)
    assert ("vae.store.versions", "vae.store.s3.link") in climbing_calls(calls)


@pytest.mark.s3
def test_opening_from_an_object_store_and_refetching_go_down_the_layers(s3_models, tmp_path, tiny_model_dir):
    """The S3 open path (listing, download into the cache, the explorer's open) and a refetch
    after the cache evicted the files an explorer still uses: no call climbs back up."""
    import shutil

    from vae.explorer import open_explorer
    from vae.store.s3 import S3Versions
    from vae.store.versions import open_dir

    tiny = open_dir(tiny_model_dir)
    S3Versions(s3_models, cache_dir=tmp_path / "writer").write(
        "v1", tiny.load_model(), {**tiny.metadata, "name": "v1"}, tiny.test_set()["x_test"])
    reader = S3Versions(s3_models, cache_dir=tmp_path / "reader")
    explorer = None

    def open_it():
        nonlocal explorer
        explorer = open_explorer(reader.open("v1"))

    calls = calls_between_modules(open_it)
    assert any(caller.startswith("vae.store.s3.") and callee == "vae.store.cache" for caller, callee in calls), \
        "the open downloaded nothing"
    assert climbing_calls(calls) == []
    shutil.rmtree(explorer.model_dir)  # the cache evicted it
    calls = calls_between_modules(lambda: explorer.version.model_file)
    assert ("vae.store.versions", "vae.store.cache") in calls, "the version was not fetched again"
    assert climbing_calls(calls) == []
    assert (explorer.model_dir / "model.keras").is_file()


def test_benches_docs_and_the_library_never_import_the_tests():
    """What tests, benches and docs share lives in harness/; vae/ needs none of it."""
    offenders = []
    for folder in ("bench", "docs", "harness", "vae", "deploy"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            for imported in imported_names(path.stem, path):
                top = imported.split(".")[0]
                if top in ("tests", "conftest", "helpers") or (folder == "vae" and top == "harness"):
                    offenders.append(f"{path.relative_to(REPO_ROOT)} imports {imported}")
    assert offenders == []
