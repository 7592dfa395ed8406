"""mlpatterns model server: one runtime for every serving pattern, a drop-in KServe custom runtime."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlpatterns-server")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
