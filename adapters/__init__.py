"""Framework adapters, each a pluggy plugin registered through the ``modelboard`` entry points."""
