"""The one exception hierarchy of damon2speedscope.

The library raises only these for anything about its inputs, options or environment;
:func:`damon2speedscope.cli.main` is the single place that turns them into ONE
``damon2speedscope: error: MESSAGE`` line and an exit code (no other module prints or exits)::

    Damon2SpeedscopeError            exit 1  base: ``except Damon2SpeedscopeError`` catches all
    ├── InputError                   exit 1  bad or unusable input: "FILE[:LINE|@OFFSET]: reason"
    │   ├── FormatError              exit 1  not a format we read, or one we refuse (pickle)
    │   └── SkipLimitError           exit 1  --strict, and something had to be skipped
    ├── ClockError                   exit 1  DAMON and perf times cannot be put on one clock,
    │                                        or do not overlap ("DAMON_FILE: reason")
    ├── ToolError                    exit 1  ``perf`` missing or unusable
    ├── OutputError                  exit 1  an output cannot be written: "FILE: cannot write: …"
    ├── UsageError                   exit 2  bad command line or option values
    └── validate.ValidationError     exit 1  our own output broke the speedscope format (a bug)

Locations: ``FILE:LINE`` for text (lines counted in the decompressed text of a compressed
input), ``FILE@OFFSET`` for bytes (an offset inside compressed data is named as such in the
reason), ``FILE`` alone for what concerns the whole input.

Not errors: what a reader cannot use but can do without (a line of unknown shape, samples of
another event, an incomplete DAMON snapshot, a snapshot that goes back in time) is skipped and
counted in a :class:`~damon2speedscope.model.SkipCounter`; the conversion reports the counts
(``Conversion.skipped``, the summary's ``skipped``, a warning line) and ``strict`` turns them
into a :class:`SkipLimitError`.

Programming errors (an invalid argument to a library function, e.g. an unknown ``prefix`` of
:func:`~damon2speedscope.writers.folded.render_folded`) raise ``ValueError``/``TypeError`` as
Python functions do. The CLI reports any other exception as an internal error (exit 70, one
line; ``DAMON2SPEEDSCOPE_DEBUG=1`` adds the traceback), ``MemoryError`` as "out of memory"
(exit 1), SIGINT as exit 130 and SIGTERM as exit 143, never leaving a partial output.
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
