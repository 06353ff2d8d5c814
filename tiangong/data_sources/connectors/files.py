"""CSV and JSON sources: rows of an uploaded file, filtered and paged."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tiangong.data_sources import tabular, textfiles
from tiangong.data_sources.connectors.base import Rows, Source
from tiangong.data_sources.errors import FileUnreadable
from tiangong.data_sources.schemas import DataSourceQuery


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileUnreadable("The uploaded file is missing from the workspace") from None
    encoding = textfiles.detect_encoding(data[: textfiles.SAMPLE_BYTES])
    if encoding is None:
        raise FileUnreadable("The uploaded file is not UTF-8 or GBK text")
    return textfiles.decode(data, encoding)


def _table(source: Source) -> tabular.Table:
    assert source.file is not None
    text = _read(source.file)
    if source.type == "csv":
        return tabular.read_csv(text, source.config.get("delimiter"))
    return tabular.records_table(tabular.parse_json(text), source.config.get("records_key"))


async def load(source: Source) -> tabular.Table:
    """The whole file as a table, parsed off the event loop."""
    return await asyncio.to_thread(_table, source)


async def test(source: Source) -> str:
    table = await load(source)
    return f"{len(table.rows)} rows, {len(table.columns)} columns"


async def query(source: Source, request: DataSourceQuery) -> Rows:
    table = await load(source)
    picked, more = tabular.select(
        table, request.filters, request.columns, request.offset, request.limit
    )
    return Rows(picked.columns, picked.rows, truncated=more)
