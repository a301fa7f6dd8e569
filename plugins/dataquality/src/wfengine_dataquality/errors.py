"""The exception the data-quality tools raise for problems a user can act on."""

from __future__ import annotations


class DataQualityError(ValueError):
    """A data-quality tool could not do its job.

    The message starts with the tool's name and says which source, key or column was
    wrong and what to do, e.g. ``dq.load: source 'x.csv' does not exist``. It subclasses
    ``ValueError`` so callers that do not know this plugin can still catch it. It is bad
    input, so retry policies do not run the node again (``retryable = False``).
    """

    retryable = False
