"""Content digests that ignore metadata, for integrity signatures.

A producer signs the content together with the label fields; a propagator
then rewrites the label. The digest must therefore cover what the file *is*
(pixels, samples, text) and nothing a label write touches. Audio and video
use the demuxed packets (stream copy keeps them byte-identical); image and
document carriers hash their own data structures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, DeepguardError
from deepguard.media.av import open_container

__all__ = ["av_packet_digest", "digest_parts"]


def digest_parts(parts: Iterable[bytes], *, domain: str) -> str:
    """SHA-256 over length-prefixed parts, so boundaries cannot be shifted."""
    h = hashlib.sha256(f"deepguard-content/1:{domain}\n".encode())
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def av_packet_digest(path: Path, limits: Limits) -> str:
    """Digest of every demuxed packet's payload, per stream, in file order.

    Raises:
        CorruptMedia: the container cannot be demuxed.
    """
    h = hashlib.sha256(b"deepguard-content/1:av-packets\n")
    try:
        container = open_container(path, limits=limits)
        try:
            for packet in container.demux():
                if packet.size == 0:
                    continue  # flush packets carry nothing
                h.update(packet.stream.index.to_bytes(2, "big"))
                h.update(packet.size.to_bytes(8, "big"))
                h.update(bytes(packet))
        finally:
            container.close()
    except DeepguardError:
        raise
    except Exception as exc:  # FFmpeg raises many kinds
        raise CorruptMedia(f"cannot demux packets: {exc}", path=path) from exc
    return h.hexdigest()
