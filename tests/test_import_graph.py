"""The package's import graph (module-level and function-level imports,
read with ast) has no cycle."""

import ast
import os

PACKAGE = "fiftyone_curvature"
# read from the files, never imported (no fiftyone or database needed)
ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), PACKAGE)


def _module_name(path):
    rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3]
    parts = rel.split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules():
    """Module name -> (path, is_package) for every .py of the package."""
    out = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                out[_module_name(path)] = (path, name == "__init__.py")
    return out


def _resolve(module, is_package, node_module, level):
    """The absolute name a relative ``from`` import refers to."""
    if level == 0:
        return node_module
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([node_module] if node_module else []))


def import_graph():
    """Module -> set of package modules it imports, anywhere in its body
    (an ``from a import b`` edge goes to ``a.b`` when that is a module,
    else to ``a``)."""
    modules = _modules()
    graph = {}
    for module, (path, is_package) in modules.items():
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node.module, node.level)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in
                           modules else base for a in node.names]
            else:
                continue
            for target in targets:
                # "import a.b.c" imports a, a.b and a.b.c; the edge that
                # matters is the deepest package module
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != module and target.startswith(
                        PACKAGE):
                    edges.add(target)
        graph[module] = edges
    return graph


def find_cycles(graph):
    """Every elementary cycle found by a depth-first search, each as a
    list of modules (first == last)."""
    cycles, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def _is_parent(a, b):
    return b.startswith(a + ".")


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    # a package importing its own submodules (its __init__ re-exports) is
    # not a cycle unless the submodule imports the package back for
    # something the package defines itself
    graph = {m: {t for t in edges if not _is_parent(m, t)
                 and not _is_parent(t, m)}
             for m, edges in graph.items()}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(
        " -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
