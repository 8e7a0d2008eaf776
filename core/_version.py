"""The installed modelboard version, read from the package metadata."""

from importlib import metadata

try:
    __version__ = metadata.version("modelboard")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
