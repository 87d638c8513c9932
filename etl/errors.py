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


def unreadable_message(db_path, exc: Exception) -> str:
    """What every command and page says about a warehouse file that is not a database."""
    return (f"仓库文件无法读取（可能已损坏，或被其他文件替换）：{db_path}；未作任何修改。请从备份恢复，或用 "
            f"`python -m etl demo` / 重新导入源文件重建。(warehouse unreadable: {exc})")
