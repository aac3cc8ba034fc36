"""Charts drawn on the server: well-formed SVG, accessible, escaped, no inline style or
script, and bars in proportion to their values (zeros and empty series included)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from console.charts import bar_chart, sparkline

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def bars(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{NS}rect") if e.get("class") == "bar"]


def test_one_bar_per_point_with_heights_in_proportion() -> None:
    root = parse(bar_chart([("mon", 2), ("tue", 4), ("wed", 1)], title="deployments"))
    heights = [float(b.get("height", "")) for b in bars(root)]
    assert len(heights) == 3
    assert heights[1] == max(heights)
    assert heights[0] == heights[1] / 2 and heights[2] == heights[1] / 4
    # bars stand on the same base line
    bottoms = {float(b.get("y", "")) + float(b.get("height", "")) for b in bars(root)}
    assert len(bottoms) == 1


def test_a_chart_is_an_image_with_a_title() -> None:
    root = parse(bar_chart([("mon", 3)], title="deployments", unit="per day"))
    assert root.get("role") == "img"
    assert root.get("aria-label") == "deployments: mon 3 per day"
    assert root.find(f"{NS}title") is not None


def test_zeros_and_missing_values_draw_flat_or_no_bars() -> None:
    root = parse(bar_chart([("mon", 0), ("tue", None), ("wed", 0)], title="rate"))
    assert [float(b.get("height", "")) for b in bars(root)] == [0.0, 0.0]
    assert "tue no data" in (root.get("aria-label") or "")


def test_an_empty_series_says_so() -> None:
    root = parse(bar_chart([], title="lead time"))
    assert bars(root) == []
    assert any(t.text == "no data" for t in root.iter(f"{NS}text"))
    assert parse(sparkline([], title="x")).get("aria-label") == "x: no data"


def test_a_hostile_label_is_escaped_everywhere() -> None:
    hostile = '<script>alert("x")</script>&"'
    svg = bar_chart([(hostile, 1)], title=hostile) + sparkline([1, 2], title=hostile)
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg
    root = parse(bar_chart([(hostile, 1)], title=hostile))
    assert root.get("aria-label", "").startswith(hostile)  # the attribute decodes to it


def test_no_inline_style_and_no_script() -> None:
    for svg in (
        bar_chart([("a", 1), ("b", 2)], title="t"),
        sparkline([1, None, 3, 4], title="t"),
    ):
        root = parse(svg)
        for element in root.iter():
            assert "style" not in element.attrib
            assert element.tag not in (f"{NS}script", f"{NS}style")
            assert not any(name.startswith("on") for name in element.attrib)


def test_a_sparkline_breaks_at_gaps_and_scales_to_its_height() -> None:
    root = parse(sparkline([0, 5, None, 10, 10], title="restore", width=40, height=36))
    lines = [e for e in root.iter(f"{NS}polyline")]
    assert len(lines) == 2
    first = [tuple(map(float, p.split(","))) for p in lines[0].get("points", "").split()]
    second = [tuple(map(float, p.split(","))) for p in lines[1].get("points", "").split()]
    assert first[0][1] == 36.0  # zero sits on the bottom
    assert second[0][1] == 16.0  # the highest value at the top of the plot (below the title)
    assert first[1][1] == 26.0  # half way
    assert parse(sparkline([0, 0], title="flat")).find(f"{NS}polyline") is not None
