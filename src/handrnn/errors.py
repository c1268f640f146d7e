"""The one exception type that the command line turns into a clean one-line error."""

from __future__ import annotations


class HandRNNError(Exception):
    """Bad input or options: the message names what is wrong and where; the CLI prints it without a traceback."""


class Interrupted(HandRNNError):
    """The user pressed Ctrl-C; the message says how to continue (with `resume`, the run folder that
    `handrnn train --resume` continues). Exit status 130."""

    def __init__(self, stopped: str, resume: object = None):
        self.stopped, self.resume = stopped, resume
        super().__init__(stopped if resume is None else f"{stopped}. Continue with: handrnn train --resume {resume}")

    def within(self, part: str, resume: object) -> Interrupted:
        """The same stop, told as `part` of a larger run that `resume` continues as a whole."""
        return Interrupted(f"{part}: {self.stopped}", resume)
