"""The one exception family of viva.

Domain code raises these with a message written for the user (the bad value, where it is, what to do
next); only ``viva.cli`` turns them into a printed line and an exit code.
"""

from __future__ import annotations


class VivaError(Exception):
    """Base of every error viva reports to the user as one line."""

    exit_code = 1


class BankError(VivaError):
    """A question bank file is missing, unreadable or breaks the schema."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class StoreError(VivaError):
    """The practice database cannot be opened, migrated or written."""


class InputError(VivaError):
    """A file or value given on the command line cannot be used."""


class ModelNotFoundError(VivaError):
    """A model (Whisper or the sentence encoder) is not installed where viva looks."""


class AudioDeviceError(VivaError):
    """No usable audio input or output device."""


class SessionBusyError(VivaError):
    """Another viva session holds the practice lock."""
