"""The pipeline graph's layout: a column per depth along the upstreams, arrows between."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from console.graph import BOX_WIDTH, GAP_X, MARGIN, Node, depths, layout, svg

LINE = [Node(name="dev", upstream=None), Node(name="staging", upstream="dev")]
LINE += [Node(name="prod", upstream="staging")]
#: staging feeds two regions
FORK = [
    Node(name="dev", upstream=None),
    Node(name="staging", upstream="dev"),
    Node(name="eu", upstream="staging"),
    Node(name="us", upstream="staging"),
]


def test_a_line_of_environments_is_a_row_of_columns_in_pipeline_order() -> None:
    drawn = layout(LINE)
    assert [(b.node.name, b.depth, b.row) for b in drawn.boxes] == [
        ("dev", 0, 0),
        ("staging", 1, 0),
        ("prod", 2, 0),
    ]
    assert [b.x for b in drawn.boxes] == [MARGIN + i * (BOX_WIDTH + GAP_X) for i in range(3)]
    assert len({b.y for b in drawn.boxes}) == 1
    assert [(e.source, e.target) for e in drawn.edges] == [("dev", "staging"), ("staging", "prod")]
    assert drawn.width == 2 * MARGIN + 3 * BOX_WIDTH + 2 * GAP_X


def test_environments_of_one_depth_stack_in_one_column_with_an_arrow_each() -> None:
    drawn = layout(FORK)
    placed = {b.node.name: b for b in drawn.boxes}
    assert placed["eu"].x == placed["us"].x and placed["eu"].depth == 2
    assert (placed["eu"].row, placed["us"].row) == (0, 1)
    assert placed["us"].y > placed["eu"].y
    assert {(e.source, e.target) for e in drawn.edges} == {
        ("dev", "staging"),
        ("staging", "eu"),
        ("staging", "us"),
    }
    down = next(e for e in drawn.edges if e.target == "us")
    assert (down.x1, down.x2) == (placed["staging"].x + BOX_WIDTH, placed["us"].x)
    assert drawn.height > placed["us"].y


def test_an_unknown_upstream_or_a_cycle_still_gives_every_environment_a_depth() -> None:
    orphan = [Node(name="prod", upstream="gone")]
    assert depths(orphan) == {"prod": 0}
    assert layout(orphan).edges == ()
    loop = [Node(name="a", upstream="b"), Node(name="b", upstream="a")]
    assert set(depths(loop)) == {"a", "b"}
    assert layout([]).boxes == ()


def test_the_drawing_is_one_titled_image_with_its_text_escaped() -> None:
    nodes = [Node(name="dev", upstream=None, tone="good", lines=("<b>1.0</b>", "Healthy"))]
    nodes.append(Node(name="staging", upstream="dev", tone="warn"))
    drawn = svg(layout(nodes), title="shop & co pipeline", key="graph-shop")
    root = ET.fromstring(str(drawn))  # well-formed: every text escaped
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and root.get("aria-labelledby") == "graph-shop-title"
    assert root.find(f"{ns}title").text == "shop & co pipeline"  # type: ignore[union-attr]
    groups = root.findall(f"{ns}g")
    assert [g.get("class") for g in groups] == ["node tone-good", "node tone-warn"]
    assert "<b>1.0</b>" in [t.text for t in groups[0].findall(f"{ns}text")]
    assert len(root.findall(f"{ns}path")) == 1  # the one arrow (its head is in <defs>)
    assert "style=" not in str(drawn)
