"""The exceptions of the model downloader, in their own module so the listing and transfer
modules can raise them without importing the downloader."""

from __future__ import annotations

# what the model manager says for a failure nobody foresaw (the detail goes to the log)
UNEXPECTED_DOWNLOAD_ERROR = (
    "The download stopped because of an unexpected error. Try again: it resumes where it "
    "stopped. Help → Open log folder has the details for a bug report."
)


class DownloadError(RuntimeError):
    """A download, import or delete failed; ``str(exc)`` is a message for the user."""


class NotEnoughSpace(DownloadError):
    pass


class VerificationFailed(DownloadError):
    pass


class DownloadCancelled(Exception):
    """The user cancelled; partial data is kept so the next download resumes."""
