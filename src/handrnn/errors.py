"""The one exception type that the command line turns into a clean one-line error."""


class HandRNNError(Exception):
    """Bad input or options: the message names what is wrong and where; the CLI prints it without a traceback."""


class Interrupted(HandRNNError):
    """The user pressed Ctrl-C; the message says how to continue. Exit status 130."""
