"""damon2speedscope: DAMON memory-access phases and perf callchains on one speedscope timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .pipeline import Conversion, ConvertOptions, InputBytes, convert

__all__ = ["Conversion", "ConvertOptions", "InputBytes", "__version__", "convert"]


def __getattr__(name: str) -> Any:
    """The library's front door, imported on first use: ``python -m damon2speedscope`` then
    imports numpy and the rest inside ``__main__``, where Ctrl-C is answered with one line."""
    if name in {"Conversion", "ConvertOptions", "InputBytes", "convert"}:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
