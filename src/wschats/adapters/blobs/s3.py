"""storage_service on S3-compatible object storage (AWS S3, MinIO, Ceph RGW, ...).

Lifecycle: `await store.start()` creates the client (and the bucket, if asked), `await
store.close()` releases it; or `async with S3BlobStore(...) as store:`. Every request is bounded
(connect/read timeouts, few retries, and an overall deadline per call), so a dead endpoint gives
`DependencyFailed(Dependency.STORAGE, ...)` quickly instead of a hang.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, aclosing, asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Literal, cast

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError

from wschats.adapters.blobs.files import ScratchFile
from wschats.adapters.blobs.keys import (
    InvalidKeyError,
    check_key,
    check_prefix,
    check_range,
    is_valid_key,
)
from wschats.domain.errors import Dependency, DependencyFailed, NotFound

if TYPE_CHECKING:
    from aiobotocore.response import StreamingBody
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.literals import BucketLocationConstraintType
    from types_aiobotocore_s3.type_defs import (
        CompletedPartTypeDef,
        CreateBucketRequestTypeDef,
        GetObjectRequestTypeDef,
        ListObjectsV2RequestTypeDef,
    )

_log = logging.getLogger(__name__)

MIB = 1024 * 1024
# S3 wants every part but the last to be at least 5 MiB; 8 MiB parts allow 78 GiB per blob.
PART_SIZE = 8 * MIB
MIN_PART_SIZE = 5 * MIB
READ_CHUNK = 256 * 1024
_MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
_TRANSPORT_ERRORS = (BotoCoreError, aiohttp.ClientError, OSError)  # OSError has TimeoutError


@cache
def _session() -> AioSession:
    """One session for the process: it caches the S3 service model, which takes a few hundred
    milliseconds to load for every new session."""
    return get_session()


class _UnsatisfiableRangeError(Exception):
    """The range starts at or after the end of the object (S3 answers 416)."""


class _PartBuffer:
    """Incoming chunks gathered into parts of exactly `part_size` bytes.

    Chunks are kept as views and joined once per part, so a part costs one copy and the
    memory held is about one part, whatever the chunk sizes.
    """

    def __init__(self, part_size: int) -> None:
        self._part_size = part_size
        self._views: list[memoryview] = []
        self._size = 0

    def add(self, chunk: bytes) -> Iterator[bytes]:
        """Keep `chunk`; yield each part it completes."""
        # A view of a mutable buffer would change under us if the source reuses it.
        view = memoryview(chunk if isinstance(chunk, bytes) else bytes(chunk))
        while view:
            room = self._part_size - self._size
            self._views.append(view[:room])
            self._size += min(room, len(view))
            view = view[room:]
            if self._size == self._part_size:
                yield self.drain()

    def drain(self) -> bytes:
        """Everything kept so far, as one part (the last one may be short)."""
        part = b"".join(self._views)
        self._views.clear()
        self._size = 0
        return part


class S3BlobStore:
    """`BlobStore` keeping blob `a/b` as object `<prefix>a/b` in `bucket`.

    `access_key`/`secret_key` None use the default AWS credential chain. `prefix` ("chats" or
    "chats/") is a folder inside the bucket, so one bucket can serve several deployments.
    Temp files of `local_path` go to `temp_dir` (default: the system temp directory).

    Bounds: `connect_timeout_s` and `read_timeout_s` per socket operation, `max_attempts` tries
    in all (retries included), and `call_timeout_s` for each call as a whole (default: enough
    for every attempt plus 10 s), which also ends a stalled upload; `health_timeout_s` for
    `health()`. `part_size` is the multipart part size and the most an upload buffers.
    """

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None,
        access_key: str | None,
        secret_key: str | None,
        region: str,
        prefix: str = "",
        *,
        create_bucket: bool = False,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        max_attempts: int = 2,
        call_timeout_s: float | None = None,
        health_timeout_s: float = 5.0,
        part_size: int = PART_SIZE,
        list_page_size: int = 1000,
        addressing_style: Literal["auto", "path", "virtual"] = "path",
        max_connections: int = 50,
        temp_dir: Path | None = None,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        if not 1 <= list_page_size <= 1000:
            raise ValueError("list_page_size must be within 1..1000 (S3's page limit)")
        stripped = prefix.strip("/")
        self._prefix = check_prefix(stripped) + "/" if stripped else ""
        self._bucket = bucket
        self._endpoint_url = endpoint_url
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        self._create_bucket = create_bucket
        self._config = AioConfig(
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": addressing_style},
            max_pool_connections=max_connections,
            # Checksums only where S3 requires them: many S3-compatible servers reject the
            # newer default trailing checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # Sending a body has no socket timeout of its own, and waiting for a pooled connection
        # none at all: this deadline bounds each call whole (retries included).
        self._call_timeout_s = (
            call_timeout_s
            if call_timeout_s is not None
            else max_attempts * (connect_timeout_s + read_timeout_s) + 10.0
        )
        self._health_timeout_s = health_timeout_s
        self._part_size = part_size
        self._page_size = list_page_size
        self._temp_dir = temp_dir
        self._client: S3Client | None = None
        self._stack: AsyncExitStack | None = None
        self._cleanups: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Create the client; with `create_bucket`, also the bucket if it does not exist."""
        if self._client is not None:
            return
        stack = AsyncExitStack()
        self._client = await stack.enter_async_context(
            _session().create_client(
                "s3",
                endpoint_url=self._endpoint_url,
                aws_access_key_id=self._access_key,
                aws_secret_access_key=self._secret_key,
                region_name=self._region,
                config=self._config,
            )
        )
        self._stack = stack
        if self._create_bucket:
            try:
                await self._ensure_bucket()
            except BaseException:
                await self.close()
                raise

    async def close(self) -> None:
        """Wait for pending clean-ups of failed uploads, then release the client."""
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        if self._stack is not None:
            stack, self._stack, self._client = self._stack, None, None
            await stack.aclose()

    async def __aenter__(self) -> S3BlobStore:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _ensure_bucket(self) -> None:
        client = self._started()
        try:
            async with asyncio.timeout(self._call_timeout_s):
                await client.head_bucket(Bucket=self._bucket)
            return
        except ClientError as error:
            if _status(error) != 404:
                raise _failure("open the bucket", self._bucket, error) from error
        except _TRANSPORT_ERRORS as error:
            raise _failure("open the bucket", self._bucket, error) from error
        request: CreateBucketRequestTypeDef = {"Bucket": self._bucket}
        if self._region != "us-east-1":
            location = cast("BucketLocationConstraintType", self._region)
            request["CreateBucketConfiguration"] = {"LocationConstraint": location}
        try:
            async with self._call("create the bucket", self._bucket):
                await client.create_bucket(**request)
        except DependencyFailed as failure:
            if _code(failure.__cause__) != "BucketAlreadyOwnedByYou":  # created meanwhile
                raise

    # ------------------------------------------------------------------ helpers

    def _started(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("S3BlobStore.start() has not been awaited")
        return self._client

    def _object_key(self, key: str) -> str:
        return self._prefix + check_key(key)

    @asynccontextmanager
    async def _call(self, action: str, key: str) -> AsyncIterator[None]:
        """One bounded S3 call; its failures become `NotFound` or `DependencyFailed`."""
        try:
            async with asyncio.timeout(self._call_timeout_s):
                yield
        except ClientError as error:
            if _code(error) in _MISSING_CODES:
                raise NotFound(f"blob {key} not found") from error
            if _code(error) == "InvalidRange":
                raise _UnsatisfiableRangeError from error
            raise _failure(action, key, error) from error
        except _TRANSPORT_ERRORS as error:
            raise _failure(action, key, error) from error

    # ------------------------------------------------------------------ BlobStore

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        client = self._started()
        object_key = self._object_key(key)
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        completing = False
        buffer = _PartBuffer(self._part_size)
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                for part in buffer.add(chunk):
                    if upload_id is None:
                        async with self._call("store", key):
                            created = await client.create_multipart_upload(
                                Bucket=self._bucket, Key=object_key
                            )
                        upload_id = created["UploadId"]
                    parts.append(await self._upload_part(key, object_key, upload_id, parts, part))
                    del part  # let it go before the next one is gathered
            rest = buffer.drain()
            if upload_id is None:
                completing = True
                async with self._call("store", key):
                    await client.put_object(Bucket=self._bucket, Key=object_key, Body=rest)
            else:
                if rest:
                    parts.append(await self._upload_part(key, object_key, upload_id, parts, rest))
                completing = True
                async with self._call("store", key):
                    await client.complete_multipart_upload(
                        Bucket=self._bucket,
                        Key=object_key,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": parts},
                    )
        except BaseException:
            # Also on CancelledError (a client that went away): nothing may stay behind.
            await self._clean_up_put(object_key, upload_id, completing)
            raise
        return size

    async def _upload_part(
        self,
        key: str,
        object_key: str,
        upload_id: str,
        parts: list[CompletedPartTypeDef],
        body: bytes,
    ) -> CompletedPartTypeDef:
        number = len(parts) + 1
        async with self._call("store", key):
            uploaded = await self._started().upload_part(
                Bucket=self._bucket,
                Key=object_key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
            )
        return {"ETag": uploaded["ETag"], "PartNumber": number}

    async def _clean_up_put(self, object_key: str, upload_id: str | None, completing: bool) -> None:
        """Abort the multipart upload and, if the final request went out, delete the object.

        Runs as its own task and is shielded: a second cancellation must not leave parts (which
        S3 bills for) or a half-acknowledged object behind.
        """

        async def clean_up() -> None:
            client = self._started()
            try:
                if upload_id is not None:
                    try:
                        async with self._call("abort the upload of", object_key):
                            await client.abort_multipart_upload(
                                Bucket=self._bucket, Key=object_key, UploadId=upload_id
                            )
                    except DependencyFailed as failure:
                        if _code(failure.__cause__) != "NoSuchUpload":
                            raise
                        # Gone already: it was completed after all, or aborted by a sweep.
                if completing:
                    async with self._call("remove the failed upload", object_key):
                        await client.delete_object(Bucket=self._bucket, Key=object_key)
            except DependencyFailed as failure:
                _log.warning("could not clean up a failed upload: %s", failure.message)

        task = asyncio.create_task(clean_up())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
        await asyncio.shield(task)

    async def get(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        check_range(start, end)
        client = self._started()
        if end == start:  # nothing to read, but a missing blob is still NotFound
            if await self.size(key) is None:
                raise NotFound(f"blob {key} not found")
            return
        request: GetObjectRequestTypeDef = {"Bucket": self._bucket, "Key": self._object_key(key)}
        if start or end is not None:
            request["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            async with self._call("read", key):
                response = await client.get_object(**request)
        except _UnsatisfiableRangeError:
            if await self.size(key) is None:
                raise NotFound(f"blob {key} not found") from None
            return  # the range starts past the end: empty, as a file would give
        async with response["Body"] as body:  # releases the connection on early exit too
            while True:
                async with self._call("read", key):
                    chunk = await _read_up_to(body, READ_CHUNK)
                if not chunk:
                    return
                yield chunk

    async def size(self, key: str) -> int | None:
        client = self._started()
        try:
            async with self._call("inspect", key):
                head = await client.head_object(Bucket=self._bucket, Key=self._object_key(key))
        except NotFound:
            return None
        return head["ContentLength"]

    async def delete(self, key: str) -> None:
        client = self._started()
        async with self._call("delete", key):
            await client.delete_object(Bucket=self._bucket, Key=self._object_key(key))

    async def delete_prefix(self, prefix: str) -> None:
        if not check_prefix(prefix):
            raise InvalidKeyError("refusing to delete every blob (empty prefix)")
        client = self._started()
        async for page in self._pages(prefix):
            if not page:
                continue
            async with self._call("delete", prefix):
                response = await client.delete_objects(
                    Bucket=self._bucket,
                    Delete={"Objects": [{"Key": key} for key in page], "Quiet": True},
                )
            if errors := response.get("Errors"):
                first = errors[0]
                raise DependencyFailed(
                    Dependency.STORAGE,
                    f"could not delete {len(errors)} blobs under {prefix}: {first.get('Code')}",
                )

    async def copy(self, source: str, target: str) -> None:
        """Server-side (CopyObject, so up to 5 GiB)."""
        client = self._started()
        target_key = self._object_key(target)
        if source == target:  # S3 refuses to copy an object onto itself unchanged
            if await self.size(source) is None:
                raise NotFound(f"blob {source} not found")
            return
        async with self._call("copy", source):
            await client.copy_object(
                Bucket=self._bucket,
                Key=target_key,
                CopySource={"Bucket": self._bucket, "Key": self._object_key(source)},
            )

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Keys in byte order; objects whose names are not valid keys (put there by other
        tools) are left out, as the local adapter leaves out such files."""
        async for page in self._pages(check_prefix(prefix)):
            for object_key in page:
                key = object_key.removeprefix(self._prefix)
                if is_valid_key(key):
                    yield key

    async def existing(self, keys: Sequence[str]) -> set[str]:
        """Those of `keys` that are stored, read from listings of their key range rather than
        a HEAD each: S3 lists in byte order, so a page of neighbouring keys (a page of file
        ids in id order) costs a listing page or two.

        Each listing starts just before the first key not yet answered and answers every key
        up to the last one it lists, so keys far apart cost at most one request each."""
        wanted = sorted({self._object_key(key) for key in keys})
        if not wanted:
            return set()
        client = self._started()
        common = _common_start(wanted[0], wanted[-1])  # of every key, as they are sorted
        request: ListObjectsV2RequestTypeDef = {
            "Bucket": self._bucket,
            "Prefix": common,
            "MaxKeys": self._page_size,
        }
        asked = set(wanted)
        found: set[str] = set()
        index = 0
        start_after = wanted[0][:-1]  # a proper prefix sorts just before the key
        while True:
            if start_after:
                request["StartAfter"] = start_after
            async with self._call("list", common or "the bucket"):
                page = await client.list_objects_v2(**request)
            listed = [item["Key"] for item in page.get("Contents", [])]
            found.update(key for key in listed if key in asked)
            if not page.get("IsTruncated") or not listed:
                break
            index = bisect.bisect_right(wanted, listed[-1], lo=index)
            if index == len(wanted):
                break
            # Skip what lies between the keys asked; resume past the listed ones at least.
            start_after = max(listed[-1], wanted[index][:-1])
        return {key.removeprefix(self._prefix) for key in found}

    async def _pages(self, prefix: str) -> AsyncIterator[list[str]]:
        """The object keys under `prefix`, one listing page at a time."""
        client = self._started()
        token: str | None = None
        while True:
            async with self._call("list", prefix or "the bucket"):
                if token is None:
                    page = await client.list_objects_v2(
                        Bucket=self._bucket, Prefix=self._prefix + prefix, MaxKeys=self._page_size
                    )
                else:
                    page = await client.list_objects_v2(
                        Bucket=self._bucket,
                        Prefix=self._prefix + prefix,
                        MaxKeys=self._page_size,
                        ContinuationToken=token,
                    )
            yield [item["Key"] for item in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def local_path(self, key: str) -> AbstractAsyncContextManager[Path]:
        """A temp copy of the blob, streamed to disk; removed when the context exits."""
        self._object_key(key)
        return self._downloaded(key)

    @asynccontextmanager
    async def _downloaded(self, key: str) -> AsyncIterator[Path]:
        suffix = PurePosixPath(key).suffix
        scratch = ScratchFile(self._temp_dir, suffix)
        try:
            try:
                path = await scratch.open()
                async with aclosing(self.get(key)) as chunks:
                    async for chunk in chunks:
                        await scratch.write([chunk])
                await scratch.close()
            except OSError as error:  # the local disk; the caller's own errors pass untouched
                raise DependencyFailed(
                    Dependency.STORAGE, f"could not download {key}: {error.strerror or error}"
                ) from error
            yield path
        finally:
            await scratch.remove()

    async def health(self) -> bool:
        if self._client is None:
            return False
        try:
            async with asyncio.timeout(self._health_timeout_s):
                await self._client.head_bucket(Bucket=self._bucket)
        except (ClientError, *_TRANSPORT_ERRORS):
            return False
        return True

    async def sweep_temp_files(self, older_than_s: float) -> int:
        """Abort multipart uploads under the prefix started more than `older_than_s` ago
        (left by a crash mid-upload); the count aborted. The S3 side of the local adapter's
        temp-file sweep, to call at start-up as well."""
        client = self._started()
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        aborted = 0
        key_marker: str | None = None
        upload_marker: str | None = None
        while True:
            async with self._call("list the uploads of", "the bucket"):
                if key_marker is None or upload_marker is None:
                    page = await client.list_multipart_uploads(
                        Bucket=self._bucket, Prefix=self._prefix
                    )
                else:
                    page = await client.list_multipart_uploads(
                        Bucket=self._bucket,
                        Prefix=self._prefix,
                        KeyMarker=key_marker,
                        UploadIdMarker=upload_marker,
                    )
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < cutoff:
                    try:
                        async with self._call("abort the upload of", upload["Key"]):
                            await client.abort_multipart_upload(
                                Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                            )
                        aborted += 1
                    except DependencyFailed as failure:
                        if _code(failure.__cause__) != "NoSuchUpload":
                            raise
                        # Gone already: completed or aborted meanwhile.
            key_marker = page.get("NextKeyMarker")
            upload_marker = page.get("NextUploadIdMarker")
            if not page.get("IsTruncated") or not key_marker:
                return aborted


async def _read_up_to(body: StreamingBody, size: int) -> bytes:
    """Up to `size` bytes of the response body (fewer only at its end), so a download goes
    out in chunks of a useful size whatever the network delivered."""
    chunk = await body.read(size)
    if len(chunk) in (0, size):
        return chunk
    gathered = bytearray(chunk)
    while len(gathered) < size:
        more = await body.read(size - len(gathered))
        if not more:
            break
        gathered += more
    return bytes(gathered)


def _common_start(first: str, last: str) -> str:
    """The longest string both start with (character by character, not by path segment)."""
    length = 0
    for a, b in zip(first, last, strict=False):
        if a != b:
            break
        length += 1
    return first[:length]


def _code(error: BaseException | None) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def _status(error: ClientError) -> int | None:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _failure(action: str, key: str, error: BaseException) -> DependencyFailed:
    reason = _code(error) or type(error).__name__
    return DependencyFailed(Dependency.STORAGE, f"could not {action} {key}: {reason}")
