"""damon2speedscope: DAMON memory-access phases and perf callchains on one speedscope timeline."""

from __future__ import annotations

__version__ = "0.1.0"

from .pipeline import Conversion, ConvertOptions, InputBytes, convert

__all__ = ["Conversion", "ConvertOptions", "InputBytes", "__version__", "convert"]
