"""The reverse-mode engine: walks the recorded graph from outputs back to leaves.

The walk is iterative (no recursion limit on deep graphs). Nodes run in an order where each
one runs only after every node that feeds it a gradient has run, so each node's incoming
gradients are summed before its ``backward`` is called.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.function import AccumulateGrad, Node
from lucid.autograd.grad_mode import _state


def _collect(roots: list[Node]) -> dict[Node, int]:
    """Every node reachable from ``roots`` with its number of incoming edges."""
    deps: dict[Node, int] = {}
    stack = []
    for r in roots:
        if r not in deps:
            deps[r] = 0
            stack.append(r)
    while stack:
        node = stack.pop()
        for e in node.next_edges:
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
    """Nodes from which some target is reachable (only those need to run for ``grad``)."""
    parents: dict[Node, list[Node]] = {n: [] for n in deps}
    for n in deps:
        for e in n.next_edges:
            if e is not None:
                parents[e[0]].append(n)
    need = set()
    stack = [t for t in targets if t in deps]
    while stack:
        n = stack.pop()
        if n in need:
            continue
        need.add(n)
        stack.extend(parents[n])
    return need


def _zeros_for(meta: tuple[tuple[int, ...], object]) -> Tensor:
    shape, dt = meta
    return Tensor._make(np.zeros(shape, dtype=dt))


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
    roots: list[Node] = []
    root_grads: dict[Node, list[Tensor | None]] = {}
    for t, g in zip(outputs, grad_outputs):
        node = t.grad_fn if t.grad_fn is not None else t._accumulator()
        nr = t._output_nr if t.grad_fn is not None else 0
        roots.append(node)
        buf = root_grads.setdefault(node, [None] * max(1, len(node._out_meta)))
        buf[nr] = g if buf[nr] is None else buf[nr] + g

    deps = _collect(roots)

    # what to capture for autograd.grad: (node, output_nr) -> position in the result
    capture: dict[tuple[Node, int], list[int]] = {}
    if inputs is not None:
        for i, t in enumerate(inputs):
            key = (t.grad_fn, t._output_nr) if t.grad_fn is not None else (t._accumulator(), 0)
            capture.setdefault(key, []).append(i)
    results: list[Tensor | None] = [None] * (len(inputs) if inputs is not None else 0)
    need = _needed(deps, {k[0] for k in capture}) if not accumulate else None

    buffers = root_grads
    ready: list[tuple[int, int, Node]] = []
    for r in dict.fromkeys(roots):
        if deps[r] == 0:
            heapq.heappush(ready, (-getattr(r, "_seq", 0), id(r), r))

    prev_mode = _state.enabled
    _state.enabled = create_graph
    try:
        while ready:
            _, _, node = heapq.heappop(ready)
            grads = buffers.pop(node, None)
            runs = need is None or node in need
            if grads is not None and runs:
                grads = _run_pre_hooks(node, grads)
                if capture:
                    for nr, g in enumerate(grads):
                        for pos in capture.get((node, nr), ()):
                            results[pos] = g
                if isinstance(node, AccumulateGrad):
                    if accumulate:
                        _accumulate(node.variable, grads[0], create_graph)
                else:
                    full = tuple(
                        g if g is not None else _zeros_for(node._out_meta[i])
                        for i, g in enumerate(grads)
                    )
                    if any(e is not None for e in node.next_edges):
                        in_grads = node._apply_backward(full)
                        _send(node, in_grads, buffers)
                    if not retain_graph:
                        node._release()
            for e in node.next_edges:
                if e is None:
                    continue
                nxt = e[0]
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    heapq.heappush(ready, (-getattr(nxt, "_seq", 0), id(nxt), nxt))
    finally:
        _state.enabled = prev_mode
    return results


def _run_pre_hooks(node: Node, grads: list[Tensor | None]) -> list[Tensor | None]:
    hooks = node._pre_hooks
    if isinstance(node, AccumulateGrad):
        hooks = {0: node.variable._hooks} if node.variable._hooks else None
    if hooks:
        grads = list(grads)
        for nr, fns in hooks.items():
            if grads[nr] is None:
                continue
            for fn in list(fns.values()):
                res = fn(grads[nr])
                if res is not None:
                    grads[nr] = res
    retained = node.__dict__.get("_retained")
    if retained:
        for nr, ref in retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                g = grads[nr].detach()
                t.grad = g if t.grad is None else Tensor._make(t.grad._data + g._data)
    return grads


def _send(node: Node, in_grads: tuple[Tensor | None, ...], buffers: dict) -> None:
    for e, g in zip(node.next_edges, in_grads):
        if e is None or g is None:
            continue
        nxt, nr = e
        meta = nxt._out_meta[nr] if nxt._out_meta else None
        if meta is not None and isinstance(nxt, Node) and g.shape != meta[0]:
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient at index "
                f"{node.next_edges.index(e)} - got {list(g.shape)} but expected shape "
                f"compatible with {list(meta[0])}"
            )
        buf = buffers.get(nxt)
        if buf is None:
            buf = buffers[nxt] = [None] * max(1, len(nxt._out_meta))
        buf[nr] = g if buf[nr] is None else buf[nr] + g


def _accumulate(var: Tensor, g: Tensor, create_graph: bool) -> None:
    if g.shape != var.shape:
        raise RuntimeError(
            f"gradient of shape {tuple(g.shape)} does not match the tensor's shape "
            f"{tuple(var.shape)}"
        )
    if g.dtype != var.dtype:
        g = g.to(var.dtype)
    if var.grad is None:
        var.grad = g if create_graph else g.detach()
    elif create_graph:
        var.grad = var.grad + g
    else:
        var.grad = Tensor._make(var.grad._data + g._data)
