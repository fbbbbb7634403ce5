"""The package's import graph is a DAG (issue 15): every import, also inside functions, parsed.

An edge M -> N means module M imports N (``import``, ``from . import``, ``from .x import y``,
function-level imports included). Importing ``a.b.c`` also runs the package ``a.b``: that edge
is added too, except to a package the importing module lies in (it is already running) and to
the root package, which every submodule import runs first anyway (only
an explicit ``from boost_focal import x`` / ``from . import x`` of a name of the root counts).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "boost_focal"
PACKAGE = "boost_focal"


def _modules():
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


def _resolve(module, is_package, level, target):
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _edges(modules):
    graph = {m: set() for m in modules}
    for module, (path, is_package) in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node.level, node.module) if node.level else (node.module or "")
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            for target in targets:
                if not target.startswith(PACKAGE):
                    continue
                while target not in modules:  # "boost_focal.x.name" -> the module that holds it
                    target = target.rpartition(".")[0]
                graph[module].add(target)
                parent = target.rpartition(".")[0]
                while parent and parent != PACKAGE:  # packages run on the way down
                    if not (module == parent or module.startswith(parent + ".")):  # not one being run
                        graph[module].add(parent)
                    parent = parent.rpartition(".")[0]
        graph[module].discard(module)
    return graph


def _cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_import_graph_has_no_cycle():
    graph = _edges(_modules())
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_checker_finds_cycles():
    """The parser sees function-level imports and the cycle finder reports them (not vacuous)."""
    graph = _edges(_modules())
    assert "boost_focal._frameworks" in graph["boost_focal.focal"]  # imported inside __call__
    assert "boost_focal.estimators" in graph["boost_focal.dask"]  # a package on the way down
    looped = {k: set(v) for k, v in graph.items()}
    looped["boost_focal._scalar"].add("boost_focal.focal")
    assert _cycle(looped) is not None
