"""storage_service adapters (the `BlobStore` port): local files and S3-compatible storage."""

from wschats.adapters.blobs.keys import InvalidKeyError
from wschats.adapters.blobs.local import LocalBlobStore
from wschats.adapters.blobs.s3 import S3BlobStore

__all__ = ["InvalidKeyError", "LocalBlobStore", "S3BlobStore"]
