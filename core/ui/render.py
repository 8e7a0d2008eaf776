"""The Jinja2 environment of the ui and the report: templates from the package, autoescape on."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["STATIC_DIR", "TEMPLATE_DIR", "environment", "plotly_js_path"]

TEMPLATE_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")


def plotly_js_path() -> Path:
    """``plotly.min.js`` inside the installed ``plotly`` package (no internet needed)."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            'the ui needs plotly: pip install "modelboard[ui]" (or pip install plotly)'
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"plotly.js is missing from the plotly package ({path})")
    return path


def _json_text(value: Any) -> str:
    return json.dumps(value, default=str)


@lru_cache(maxsize=1)
def environment() -> Any:
    """The template environment (every ``{{ }}`` is HTML-escaped)."""
    import jinja2

    from modelboard.ui.pages import figures_json

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        trim_blocks=False,
    )
    env.filters["figures_json"] = figures_json
    env.filters["tojson_text"] = _json_text
    return env
