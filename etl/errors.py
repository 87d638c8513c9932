"""Errors the ETL raises. Messages are written for the person who sent the file: what is wrong and
what to do about it, in Chinese first with an English gloss."""


class EtlError(Exception):
    """A file cannot be loaded at all; nothing from it was written."""


class UnreadableFile(EtlError):
    pass


class UnknownKind(EtlError):
    pass


class LimitExceeded(EtlError):
    pass


class SchemaTooNew(EtlError):
    """The warehouse was written by a newer version of this program."""
