"""The kit's own errors: one base class, so the command line can catch them in one place.

Every error labkit raises on purpose (a dataset it cannot use, a model name it does not know, a Hub id
while offline, a configuration that does not make sense) is a :class:`LabkitError`. Each also derives
from the built-in exception a Python user would expect (``ValueError``, ``LookupError``), so
``except ValueError`` keeps working. ``labkit`` on the command line prints the message of a
``LabkitError`` and exits with status 2, without a traceback: the message is the whole story.
"""

from __future__ import annotations


class LabkitError(Exception):
    """Base class of every error the kit raises on purpose, with a message that says what to do."""


class DatasetError(LabkitError, ValueError):
    """A dataset name, file or table that is not what the kit expects (missing column, empty split...)."""


DataError = DatasetError  # the name ``labkit.data`` has always used


class ModelNotAvailableError(LabkitError, LookupError):
    """A model name that is neither registered in the kit nor reachable on the Hub (e.g. offline)."""


class ConfigError(LabkitError, ValueError):
    """A configuration that cannot work: an unknown option, a negative size, a recipe out of range."""


class MissingFileError(LabkitError, FileNotFoundError):
    """A file or folder the kit needs is not there: the data folder, a checkpoint, a results folder."""


class RunExistsError(LabkitError, FileExistsError):
    """A training run's folder already holds a run: resume it (``--resume``) or choose another folder."""
