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


# DuckDB's words for a file it can never open: not a database, or written by another DuckDB storage
# version (a file written by DuckDB 2.0 carries the development storage version 999)
UNREADABLE = ("not a valid DuckDB database", "created with an newer version of DuckDB",
              "created with a newer version of DuckDB", "created with an older version of DuckDB")


def is_unreadable(exc: Exception) -> bool:
    return any(words in str(exc) for words in UNREADABLE)


def unreadable_message(db_path, exc: Exception) -> str:
    """What every command and page says about a warehouse file that is not a database."""
    if "version" in str(exc) and is_unreadable(exc):
        return (f"仓库文件由另一版本的 DuckDB 写入，本程序（DuckDB 1.5.5）无法读取：{db_path}；未作任何修改。请用 "
                f"`python -m etl demo` 或重新导入源文件重建仓库。(warehouse written by another DuckDB version: {exc})")
    return (f"仓库文件无法读取（可能已损坏，或被其他文件替换）：{db_path}；未作任何修改。请从备份恢复，或用 "
            f"`python -m etl demo` / 重新导入源文件重建。(warehouse unreadable: {exc})")
