"""The reverse-mode engine: walks the recorded graph from outputs back to leaves.

The walk is iterative (no recursion limit on deep graphs). A node runs only after every
node that feeds it a gradient has run, so its incoming gradients are summed before its
``backward`` is called; among the nodes that are ready, the most recently created runs
first, as in PyTorch.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.function import AccumulateGrad, Node, _edge
from lucid.autograd.grad_mode import _state


def _collect(roots: list[Node]) -> dict[Node, int]:
    """Every node reachable from ``roots`` with its number of incoming edges."""
    deps: dict[Node, int] = dict.fromkeys(roots, 0)
    stack = list(deps)
    while stack:
        for e in stack.pop().next_edges:
            if e is None:
                continue
            nxt = e[0]
            if nxt in deps:
                deps[nxt] += 1
            else:
                deps[nxt] = 1
                stack.append(nxt)
    return deps


def _needed(deps: dict[Node, int], targets: set[Node]) -> set[Node]:
    """Nodes from which some target is reachable (only those run for ``autograd.grad``)."""
    parents: dict[Node, list[Node]] = {n: [] for n in deps}
    for n in deps:
        for e in n.next_edges:
            if e is not None:
                parents[e[0]].append(n)
    need: set[Node] = set()
    stack = [t for t in targets if t in deps]
    while stack:
        n = stack.pop()
        if n not in need:
            need.add(n)
            stack.extend(parents[n])
    return need


def run_backward(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
    accumulate: bool = True,
) -> list[Tensor | None]:
    """Back-propagate ``grad_outputs`` from ``outputs``.

    With ``accumulate`` the gradients of leaves are summed into their ``.grad``; otherwise
    the gradients reaching ``inputs`` are returned (``autograd.grad``).
    """
    prev_mode = _state.enabled
    _state.enabled = True  # re-deriving stale views records their graph
    try:
        root_edges = [_edge(t) for t in outputs]
        input_edges = [_edge(t) for t in inputs] if inputs is not None else []
    finally:
        _state.enabled = prev_mode
    buffers: dict[Node, list[Any]] = {}
    for (node, nr), g in zip(root_edges, grad_outputs):
        _add_to_buffer(buffers, node, nr, g)
    roots = list(buffers)
    deps = _collect(roots)

    # autograd.grad: (node, output_nr) -> positions in the result
    capture: dict[tuple[Node, int], list[int]] = {}
    for i, key in enumerate(input_edges):
        capture.setdefault(key, []).append(i)
    results: list[Tensor | None] = [None] * len(input_edges)
    need = None if accumulate else _needed(deps, {k[0] for k in capture})

    ready = [(-r._seq, id(r), r) for r in roots if deps[r] == 0]
    heapq.heapify(ready)
    _state.enabled = create_graph
    try:
        while ready:
            node = heapq.heappop(ready)[2]
            grads = buffers.pop(node, None)
            if grads is not None and (need is None or node in need):
                is_leaf = type(node) is AccumulateGrad
                if node._pre_hooks or node._retained or (is_leaf and node.variable._hooks):
                    grads = _run_hooks(node, grads)
                if capture:
                    for nr, g in enumerate(grads):
                        for pos in capture.get((node, nr), ()):
                            results[pos] = g
                if not is_leaf:
                    _run_node(node, grads, buffers, retain_graph)
                elif accumulate:
                    g = grads[0]
                    grads = None  # leaves `g` referenced only here (see _sole_owner)
                    accumulate_grad(node.variable, g, create_graph, steal=True)
            for e in node.next_edges:
                if e is not None:
                    nxt = e[0]
                    deps[nxt] -= 1
                    if deps[nxt] == 0:
                        heapq.heappush(ready, (-nxt._seq, id(nxt), nxt))
    finally:
        _state.enabled = prev_mode
    return results


def _run_node(node: Node, grads: list[Any], buffers: dict[Node, list[Any]],
              retain_graph: bool) -> None:
    """Call one node's backward and send the results along its edges."""
    if len(grads) > 1 and node._materialize:
        grads = [g if g is not None else _zeros(node._out_meta[i]) for i, g in enumerate(grads)]
    in_grads = node._apply_backward(tuple(grads))
    for i, (e, g) in enumerate(zip(node.next_edges, in_grads)):
        if e is None or g is None:
            continue
        nxt, nr = e
        if nxt._out_meta:
            shape, dt = nxt._out_meta[nr]
            if g._data.shape != shape:
                raise RuntimeError(
                    f"Function {node.name()} returned an invalid gradient at index {i} - got "
                    f"{list(g.shape)} but expected shape compatible with {list(shape)}"
                )
            if g._data.dtype != dt:
                g = g.to(dt)
        _add_to_buffer(buffers, nxt, nr, g)
    if not retain_graph:
        node._release()


def _add_to_buffer(buffers: dict[Node, list[Any]], node: Node, nr: int, g: Tensor) -> None:
    buf = buffers.get(node)
    if buf is None:
        buf = buffers[node] = [None] * max(1, len(node._out_meta))
    buf[nr] = g if buf[nr] is None else buf[nr] + g


def _zeros(meta: tuple[tuple[int, ...], np.dtype]) -> Tensor:
    shape, dt = meta
    return Tensor._make(np.zeros(shape, dtype=dt))


def _run_hooks(node: Node, grads: list[Any]) -> list[Any]:
    """Tensor hooks (which may replace a gradient), then ``retain_grad`` storage."""
    hooks = node._pre_hooks
    if type(node) is AccumulateGrad and node.variable._hooks:
        hooks = {0: node.variable._hooks}
    if hooks:
        for nr, fns in hooks.items():
            for fn in list(fns.values()):
                if grads[nr] is not None:
                    res = fn(grads[nr])
                    if res is not None:
                        grads[nr] = res
    if node._retained:
        for nr, ref in node._retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                store_grad(t, grads[nr], False)
    return grads


def accumulate_grad(var: Tensor, g: Tensor, create_graph: bool, steal: bool = False) -> None:
    """Sum ``g`` into the ``.grad`` of ``var`` (checked and cast to its dtype).

    ``steal`` (the engine's leaf step only) lets a first gradient that nothing else refers
    to become ``.grad`` without a copy.
    """
    if g._data.shape != var._data.shape:
        raise RuntimeError(
            f"gradient of shape {tuple(g.shape)} does not match the tensor's shape "
            f"{tuple(var.shape)}"
        )
    if g._data.dtype != var._data.dtype:
        g = g.to(var.dtype)
    store_grad(var, g, create_graph, steal)


def _sole_owner(g: Tensor) -> bool:
    """Whether nothing but the engine's call chain refers to ``g`` and its array.

    The references counted (``_GRAD_REFS``) are the engine's local, the parameters of
    ``accumulate_grad``, ``store_grad`` and this function, and ``getrefcount``'s argument;
    the array must own its memory and be referred to by ``g`` alone. Such a gradient can
    become ``.grad`` without a copy, as PyTorch's AccumulateGrad steals a gradient nobody
    else holds. (The counts are CPython 3.11's; tests/core/test_autograd.py pins both
    sides of the threshold.)
    """
    a = g._data
    return (
        sys.getrefcount(g) <= _GRAD_REFS
        and a.base is None
        and a.flags.writeable
        and sys.getrefcount(a) <= 3  # g._data, the local ``a`` and the call's argument
    )


_GRAD_REFS = 5


def store_grad(var: Tensor, g: Tensor, create_graph: bool, steal: bool = False) -> None:
    """Sum ``g`` into ``var.grad``: in place when no graph is being built, else out of
    place; a first gradient is copied (unless ``steal`` and nothing else refers to it, see
    :func:`_sole_owner`) so ``.grad`` never aliases another tensor."""
    old = var.grad
    if old is None:
        if create_graph:
            var.grad = g
        else:
            var.grad = Tensor._make(g._data if steal and _sole_owner(g) else np.array(g._data))
    elif create_graph or old._requires_grad or not old._data.flags.writeable:
        var.grad = old + g if create_graph else Tensor._make(old._data + g._data)
    else:
        old._data += g._data
