"""The one exception the command line turns into a plain message and exit code 2."""


class PipelineError(Exception):
    """A problem with the user's input, files or models, worded for a data scientist."""
