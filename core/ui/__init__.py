"""The browser views of modelboard: ``modelboard ui`` (a live local dashboard) and
``modelboard report`` (one self-contained HTML file).

Needs the ``ui`` extra (``pip install "modelboard[ui]"``: starlette, uvicorn, jinja2, plotly);
nothing here is imported by ``import modelboard``. See ``docs/ui.md``.
"""

__all__ = ["create_app", "serve", "write_report"]


def __getattr__(name: str) -> object:
    if name in ("create_app", "serve"):
        from modelboard.ui import app

        return getattr(app, name)
    if name == "write_report":
        from modelboard.ui.report import write_report

        return write_report
    raise AttributeError(name)
