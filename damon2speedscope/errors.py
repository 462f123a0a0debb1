"""The one exception hierarchy of damon2speedscope.

The library raises only these; ``cli.main`` is the single place that turns them into
``damon2speedscope: error: ...`` lines and exit codes.
"""

from __future__ import annotations


class Damon2SpeedscopeError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = 1


class InputError(Damon2SpeedscopeError):
    """Bad or unusable input, located as ``FILE:LINE`` or ``FILE@OFFSET`` when known."""

    def __init__(
        self,
        reason: str,
        source: str | None = None,
        line: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.reason = reason
        self.source = source
        self.line = line
        self.offset = offset
        super().__init__(self.located())

    def located(self) -> str:
        where = self.source or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        elif self.offset is not None:
            where += f"@{self.offset}"
        return f"{where}: {self.reason}"

    def at(self, line: int | None = None, offset: int | None = None) -> InputError:
        """The same error located at ``line`` or ``offset`` when it had no location yet."""
        if self.line is not None or self.offset is not None:
            return self
        return type(self)(self.reason, self.source, line, offset)

    def with_source(self, source: str) -> InputError:
        """The same error, named after ``source`` when the reader did not know the file name."""
        if self.source is not None:
            return self
        return type(self)(self.reason, source, self.line, self.offset)


class FormatError(InputError):
    """The bytes are not any format we read, or are a format we refuse (pickle)."""


class SkipLimitError(InputError):
    """``--strict`` was given and something had to be skipped."""


class ClockError(Damon2SpeedscopeError):
    """Two timestamps of different clock domains met without a known mapping, or do not overlap."""


class OutputError(Damon2SpeedscopeError):
    """An output file (``-o``, ``--summary``) or stdout could not be written."""

    def __init__(self, reason: str, target: str) -> None:
        self.reason = reason
        self.target = target
        super().__init__(f"{target}: {reason}")


class ToolError(Damon2SpeedscopeError):
    """An external tool we rely on (``perf``) is missing or failed."""


class UsageError(Damon2SpeedscopeError):
    """Bad command line or bad option values; exit code 2 like argparse."""

    exit_code = 2
