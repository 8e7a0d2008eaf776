"""The architecture diagram of a network: GraphViz SVG when ``dot`` is installed, else text."""

from __future__ import annotations

import base64
import shutil
import subprocess

from modelboard.records import LayerRecord, NetworkRecord

__all__ = ["diagram_lines", "diagram_svg_data_uri"]


def _leaves(network: NetworkRecord) -> list[LayerRecord]:
    return [layer for layer in network.layers if not layer.is_container]


def _describe(layer: LayerRecord) -> str:
    parts = []
    for key, value in (layer.canonical_config or {}).items():
        if isinstance(value, list):
            value = "x".join(str(v) for v in value)
        parts.append(f"{key}={value}")
    shape = f" -> {layer.output_shape}" if layer.output_shape is not None else ""
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{layer.path}: {layer.type}{detail}{shape}"


def diagram_lines(network: NetworkRecord) -> list[str]:
    """The leaf layers top to bottom, one line each, joined by arrows (the text diagram)."""
    lines: list[str] = []
    for index, layer in enumerate(_leaves(network)):
        if index:
            lines.append("   |")
            lines.append("   v")
        lines.append(_describe(layer))
    return lines


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _dot_source(network: NetworkRecord) -> str:
    lines = [
        "digraph network {",
        '  graph [rankdir=TB, fontname="Helvetica"];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];',
    ]
    leaves = _leaves(network)
    for index, layer in enumerate(leaves):
        shape = "" if layer.output_shape is None else f"\\n{_dot_text(str(layer.output_shape))}"
        label = f"{_dot_text(layer.path)}\\n{_dot_text(layer.type)}{shape}"
        params = layer.trainable_params + layer.non_trainable_params
        if params:
            label += f"\\n{params:,} params"
        lines.append(f'  n{index} [label="{label}"];')
        if index:
            lines.append(f"  n{index - 1} -> n{index};")
    lines.append("}")
    return "\n".join(lines)


def diagram_svg_data_uri(network: NetworkRecord, timeout: float = 20.0) -> str | None:
    """The diagram as a ``data:image/svg+xml`` URI for an ``<img>`` (an SVG shown as an image
    runs no script, whatever the layer names hold); ``None`` when ``dot`` is missing or fails."""
    dot = shutil.which("dot")
    if dot is None or not _leaves(network):
        return None
    try:
        done = subprocess.run(
            [dot, "-Tsvg"],
            input=_dot_source(network).encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or not done.stdout:
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(done.stdout).decode("ascii")
