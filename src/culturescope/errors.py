"""The one exception type a user can cause; the CLI turns it into one message and exit code 2."""


class CulturescopeError(Exception):
    """A problem with the user's input (a file, a code, an option), stated in one sentence."""
