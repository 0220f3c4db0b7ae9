"""Readers of stored bytes handed on to a response (services/blob_readers.py): the reader is
closed whatever ends the body, and a failure to close it never replaces what the caller sees
(the whole body, or the error that ended it); it is logged."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import pytest

from wschats.adapters.blobs import LocalBlobStore
from wschats.services.blob_readers import close_reader, prepended


class ReadError(Exception):
    pass


class Reader:
    """A reader of stored bytes that can fail while reading or when closed (the storage
    adapters' readers cannot be made to fail on close at will)."""

    def __init__(self, chunks: list[bytes], *, fail_reading: bool, fail_closing: bool) -> None:
        self.closed = False
        self._chunks = chunks
        self._fail_reading = fail_reading
        self._fail_closing = fail_closing
        self._generator = self._read()

    async def _read(self) -> AsyncGenerator[bytes, None]:
        for chunk in self._chunks:
            yield chunk
        if self._fail_reading:
            raise ReadError("storage failed half-way")

    def __aiter__(self) -> Reader:
        return self

    async def __anext__(self) -> bytes:
        return await anext(self._generator)

    async def aclose(self) -> None:
        self.closed = True
        await self._generator.aclose()
        if self._fail_closing:
            raise OSError("the connection broke while closing")


async def test_a_stored_file_comes_whole_with_its_first_chunk_read_ahead(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    try:

        async def body() -> AsyncIterator[bytes]:
            yield b"0123456789" * 1000

        await blobs.put("files/a", body())
        reader = blobs.get("files/a")
        first = await anext(reader)
        assert b"".join([chunk async for chunk in prepended(first, reader)]) == b"0123456789" * 1000
    finally:
        await blobs.close()


async def test_a_close_that_fails_after_the_body_was_sent_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reader = Reader([b"b", b"c"], fail_reading=False, fail_closing=True)
    with caplog.at_level(logging.WARNING, logger="wschats.services.blob_readers"):
        body = b"".join([chunk async for chunk in prepended(b"a", reader)])
    assert body == b"abc"
    assert reader.closed
    assert "could not close a reader of stored bytes" in caplog.text
    assert "the connection broke while closing" in caplog.text


async def test_a_close_that_fails_after_reading_failed_leaves_the_reading_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reader = Reader([b"b"], fail_reading=True, fail_closing=True)
    received = []
    with (
        caplog.at_level(logging.WARNING, logger="wschats.services.blob_readers"),
        pytest.raises(ReadError, match="half-way"),
    ):
        async for chunk in prepended(b"a", reader):
            received.append(chunk)
    assert received == [b"a", b"b"]
    assert reader.closed
    assert "the connection broke while closing" in caplog.text


async def test_a_body_left_unfinished_closes_its_reader() -> None:
    reader = Reader([b"b", b"c"], fail_reading=False, fail_closing=True)
    body = prepended(b"a", reader)
    assert await anext(body) == b"a"
    await body.aclose()  # the client went away: the response closes its body
    assert reader.closed


async def test_closing_a_reader_that_fails_to_close_does_not_raise() -> None:
    reader = Reader([b"a"], fail_reading=False, fail_closing=True)
    await close_reader(reader)
    assert reader.closed
