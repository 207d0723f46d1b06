"""From a decoded payload back to the producer's GB 45438 label.

Why: platforms must label AI content even after a violator stripped its
metadata. The watermark survives and names a producer tag and content ID; the
producer's label record (written when ``deepguard label --watermark`` ran)
restores the full fields. Without a record the tag still narrows the producer
down: it is compared with the producer codes this installation knows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from deepguard.media.item import sha256_file
from deepguard.store.interface import ILabelRecordStore, LabelRecord
from deepguard.watermark.payload import (
    CID_BITS,
    SHORT_CID_BITS,
    SHORT_TAG_BITS,
    TAG_BITS,
    Payload,
)

__all__ = ["find_records", "payload_ranges", "record_output"]


def payload_ranges(payload: Payload) -> tuple[tuple[int, int], tuple[int, int]]:
    """Inclusive tag and content-ID ranges a payload can stand for.

    A 64-bit payload names one value of each; a 32-bit one only their top
    bits, so every value with those top bits matches.
    """
    if payload.width == 64:
        return (payload.producer_tag,) * 2, (payload.content_id,) * 2
    short = payload.short()
    tag_free = (1 << (TAG_BITS - SHORT_TAG_BITS)) - 1
    cid_free = (1 << (CID_BITS - SHORT_CID_BITS)) - 1
    return (
        (short.producer_tag, short.producer_tag | tag_free),
        (short.content_id, short.content_id | cid_free),
    )


def find_records(store: ILabelRecordStore, payload: Payload) -> list[LabelRecord]:
    """The label records a payload points to, newest first."""
    tags, cids = payload_ranges(payload)
    return store.find_label_records(producer_tags=tags, content_ids=cids)


def record_output(
    store: ILabelRecordStore,
    payload: Payload,
    fields: Mapping[str, str],
    output: Path,
) -> int:
    """File the label record of a marked output; returns the record id.

    Called by every path that embeds a mark for a producer (``label
    --watermark``, ``watermark embed``), so the record always carries the same
    things: the payload key, the GB 45438 fields, and the output's digest.
    """
    return store.save_label_record(
        record=LabelRecord(
            producer_tag=payload.producer_tag,
            content_id=payload.content_id,
            fields=dict(fields),
            created_at=dt.datetime.now(dt.UTC),
            sha256=sha256_file(output),
            path=str(output),
        )
    )
