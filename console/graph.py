"""The pipeline as a graph: environments as boxes, upstream arrows between them. Pure.

Where it sits: between the app page's environments (their pipeline order, upstreams and
tones, as `console.cells` finds them) and its template. A pipeline may be a graph (each
environment names its `upstream`), so boxes are laid out by depth: an environment one
column right of its upstream, environments of one depth stacked in pipeline order. The
drawing is an SVG made here, text escaped, accessible as one image with a title.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

BOX_WIDTH = 180
BOX_HEIGHT = 66
GAP_X = 56
GAP_Y = 18
MARGIN = 6
LINE_HEIGHT = 16


@dataclass(frozen=True, kw_only=True)
class Node:
    """One environment as the graph shows it."""

    name: str
    upstream: str | None
    tone: str = "none"
    #: the lines under its name (release, health and sync)
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Box:
    """A node placed: its column (depth) and row, and its top-left corner."""

    node: Node
    depth: int
    row: int
    x: int
    y: int


@dataclass(frozen=True, kw_only=True)
class Edge:
    """An arrow from an upstream's right side to its downstream's left side."""

    source: str
    target: str
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Boxes, arrows and the drawing's size."""

    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int


def depths(nodes: Sequence[Node]) -> dict[str, int]:
    """Each node's depth: 0 without a known upstream, else one more than its upstream's.

    An upstream that is not among the nodes counts as none; a cycle (which the config
    refuses) is cut where it closes, so every node gets a depth.
    """
    upstream = {n.name: n.upstream for n in nodes}
    found: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str]) -> int:
        if name in found:
            return found[name]
        parent = upstream.get(name)
        if parent is None or parent not in upstream or parent in seen:
            return 0
        return depth(parent, seen | {name}) + 1

    for node in nodes:
        found[node.name] = depth(node.name, frozenset({node.name}))
    return found


def layout(nodes: Sequence[Node]) -> Layout:
    """Place `nodes` (in pipeline order): a column per depth, a row per node of that depth."""
    levels = depths(nodes)
    rows: dict[int, int] = {}
    boxes: list[Box] = []
    for node in nodes:
        level = levels[node.name]
        row = rows.get(level, 0)
        rows[level] = row + 1
        boxes.append(
            Box(
                node=node,
                depth=level,
                row=row,
                x=MARGIN + level * (BOX_WIDTH + GAP_X),
                y=MARGIN + row * (BOX_HEIGHT + GAP_Y),
            )
        )
    placed = {b.node.name: b for b in boxes}
    edges = tuple(
        Edge(
            source=up.node.name,
            target=b.node.name,
            x1=up.x + BOX_WIDTH,
            y1=up.y + BOX_HEIGHT // 2,
            x2=b.x,
            y2=b.y + BOX_HEIGHT // 2,
        )
        for b in boxes
        if b.node.upstream is not None
        and (up := placed.get(b.node.upstream)) is not None
        and up.depth < b.depth
    )
    columns = max(levels.values(), default=-1) + 1
    height_rows = max(rows.values(), default=0)
    return Layout(
        boxes=tuple(boxes),
        edges=edges,
        width=2 * MARGIN + max(columns * BOX_WIDTH + (columns - 1) * GAP_X, 0),
        height=2 * MARGIN + max(height_rows * BOX_HEIGHT + (height_rows - 1) * GAP_Y, 0),
    )


def _path(edge: Edge) -> str:
    """A straight arrow, or an S-curve between rows."""
    if edge.y1 == edge.y2:
        return f"M{edge.x1},{edge.y1} H{edge.x2 - 2}"
    middle = (edge.x1 + edge.x2) // 2
    return f"M{edge.x1},{edge.y1} C{middle},{edge.y1} {middle},{edge.y2} {edge.x2 - 2},{edge.y2}"


def svg(drawn: Layout, *, title: str, key: str) -> Markup:
    """The layout as an SVG image titled `title` (`key`: unique on the page, for ids)."""
    title_id, marker = f"{key}-title", f"{key}-arrow"
    parts = [
        Markup(
            '<svg class="graph" role="img" aria-labelledby="{t}" viewBox="0 0 {w} {h}"'
            ' width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">'
        ).format(t=title_id, w=drawn.width, h=drawn.height),
        Markup('<title id="{}">{}</title>').format(title_id, title),
        Markup(
            '<defs><marker id="{}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"'
            ' markerHeight="7" orient="auto-start-reverse">'
            '<path class="arrow-head" d="M0,0 L10,5 L0,10 z"/></marker></defs>'
        ).format(marker),
    ]
    for edge in drawn.edges:
        parts.append(
            Markup('<path class="edge" d="{d}" marker-end="url(#{m})"/>').format(
                d=_path(edge), m=marker
            )
        )
    for box in drawn.boxes:
        node = box.node
        parts.append(
            Markup(
                '<g class="node tone-{tone}" data-environment="{name}">'
                '<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6"/>'
                '<text class="name" x="{tx}" y="{ty}">{name}</text>'
            ).format(
                tone=node.tone,
                name=node.name,
                x=box.x,
                y=box.y,
                w=BOX_WIDTH,
                h=BOX_HEIGHT,
                tx=box.x + 10,
                ty=box.y + 18,
            )
        )
        for i, line in enumerate(node.lines[:2]):
            parts.append(
                Markup('<text x="{x}" y="{y}">{text}</text>').format(
                    x=box.x + 10, y=box.y + 18 + LINE_HEIGHT * (i + 1) + 2, text=line
                )
            )
        parts.append(Markup("</g>"))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
