"""The one exception type for user-facing errors.

Anything a user can cause (a bad file, a bad option value) raises ImfitError with a message that
reads as one line on its own; cli.py turns it into `Error: ...` and exit status 2, no traceback.
"""


class ImfitError(ValueError):
    """A problem with the user's input, explained in one line."""
