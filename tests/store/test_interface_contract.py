"""The IScanStore contract, run against every store implementation.

Every store must pass the same tests, so that code tested against the memory
fake behaves the same on SQLite and PostgreSQL. PostgreSQL runs when
``DEEPGUARD_TEST_POSTGRES_URL`` names a database the tests may wipe.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from deepguard.errors import Conflict, NotFound, StorageError
from deepguard.scan.finding import AigcLabel
from deepguard.store import (
    NO_LABEL,
    IScanStore,
    IStore,
    LabelRecord,
    MemoryStore,
    ScanSummary,
)
from deepguard.store.sql import SqlStore

from .factories import (
    POSTGRES_URL,
    T0,
    digest,
    make_result,
    reset_postgres,
    rich_result,
)

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not POSTGRES_URL, reason="DEEPGUARD_TEST_POSTGRES_URL is not set"
        ),
    ),
]


def open_store(backend: str, tmp_path: Path) -> IStore:
    """A new, empty store of the given kind."""
    if backend == "memory":
        return MemoryStore()
    if backend == "sqlite":
        return SqlStore.open(f"sqlite:///{tmp_path / 'home' / 'deepguard.db'}")
    assert POSTGRES_URL is not None
    reset_postgres(POSTGRES_URL)
    return SqlStore.open(POSTGRES_URL)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IScanStore]:
    opened = open_store(request.param, tmp_path)
    yield opened
    opened.close()


class TestScanStoreContract:
    """What every IScanStore promises its callers."""

    # save and round trip

    def test_save_scan_returns_distinct_increasing_ids(self, store: IScanStore) -> None:
        ids = [store.save_scan(result=make_result(seed=i)) for i in range(3)]
        assert ids == sorted(set(ids))
        assert store.count_scans() == 3

    def test_saved_document_round_trips_exactly(self, store: IScanStore) -> None:
        result = rich_result()
        store.save_scan(result=result)
        assert result.file.sha256 is not None
        got = store.get_scan(sha256=result.file.sha256)
        assert got.to_dict() == result.to_dict()
        assert got == result

    def test_save_scans_returns_ids_in_input_order(self, store: IScanStore) -> None:
        results = [make_result(seed=i, findings=i % 4) for i in range(20)]
        ids = store.save_scans(results=results)
        assert len(ids) == 20
        assert ids == sorted(set(ids))
        by_id = {s.id: s for s in store.list_scans(limit=100)}
        for id_, result in zip(ids, results, strict=True):
            assert by_id[id_].path == result.file.path
            assert by_id[id_].finding_count == len(result.findings)
        for result in results:
            assert result.file.sha256 is not None
            assert store.get_scan(sha256=result.file.sha256) == result

    def test_save_scans_of_nothing_stores_nothing(self, store: IScanStore) -> None:
        assert store.save_scans(results=[]) == []
        assert store.count_scans() == 0

    def test_save_scans_stores_all_or_nothing(self, store: IScanStore) -> None:
        bad = make_result(seed=2, details={"raw": b"\x00 not json"})
        results = [make_result(seed=1), bad, make_result(seed=3)]
        with pytest.raises(StorageError) as info:
            store.save_scans(results=results)
        assert "\n" not in str(info.value)
        assert store.count_scans() == 0

    def test_save_scan_rejects_values_json_cannot_hold(self, store: IScanStore) -> None:
        with pytest.raises(StorageError):
            store.save_scan(result=make_result(details={"x": float("nan")}))
        assert store.count_scans() == 0

    def test_stored_result_is_a_copy(self, store: IScanStore) -> None:
        result = make_result(seed=1)
        store.save_scan(result=result)
        expected = json.loads(json.dumps(result.to_dict()))
        result.media["width"] = 1
        result.findings.clear()
        assert result.file.sha256 is not None
        assert store.get_scan(sha256=result.file.sha256).to_dict() == expected

    def test_thousand_results_in_one_batch(self, store: IScanStore) -> None:
        results = [make_result(seed=i, findings=3) for i in range(1000)]
        ids = store.save_scans(results=results)
        assert len(set(ids)) == 1000
        assert store.count_scans() == 1000
        assert store.list_scans(limit=1)[0].id == ids[-1]
        assert store.get_scan(sha256=digest(500)) == results[500]

    # get_scan

    def test_get_scan_returns_the_latest_scan_of_the_content(
        self, store: IScanStore
    ) -> None:
        sha = digest("same")
        newest = make_result(seed=1, sha256=sha, path="/b.png", scanned_at=T0)
        older = make_result(
            seed=2, path="/a.png", sha256=sha, scanned_at=T0.replace(year=2024)
        )
        store.save_scans(results=[newest, older])
        assert store.get_scan(sha256=sha).file.path == "/b.png"

    def test_get_scan_prefers_the_later_save_when_times_tie(
        self, store: IScanStore
    ) -> None:
        sha = digest("same")
        store.save_scan(result=make_result(path="/first.png", sha256=sha))
        store.save_scan(result=make_result(path="/second.png", sha256=sha))
        assert store.get_scan(sha256=sha).file.path == "/second.png"

    @pytest.mark.parametrize("length", [6, 7, 12, 63, 64])
    def test_get_scan_accepts_a_unique_prefix(
        self, store: IScanStore, length: int
    ) -> None:
        results = [make_result(seed=i) for i in range(10)]
        store.save_scans(results=results)
        target = results[4]
        assert target.file.sha256 is not None
        assert store.get_scan(sha256=target.file.sha256[:length]) == target

    def test_get_scan_ignores_case_and_whitespace(self, store: IScanStore) -> None:
        result = make_result(seed=3)
        store.save_scan(result=result)
        assert result.file.sha256 is not None
        query = f"  {result.file.sha256[:10].upper()}\n"
        assert store.get_scan(sha256=query) == result

    def test_get_scan_finds_uppercase_digests_stored_by_others(
        self, store: IScanStore
    ) -> None:
        sha = digest("upper")
        store.save_scan(result=make_result(sha256=sha.upper()))
        assert store.get_scan(sha256=sha[:8]).file.sha256 == sha.upper()

    def test_ambiguous_prefix_is_a_conflict(self, store: IScanStore) -> None:
        first = "abc123" + "0" * 58
        second = "abc123" + "f" * 58
        store.save_scans(
            results=[
                make_result(seed=1, sha256=first),
                make_result(seed=2, sha256=second),
                make_result(seed=3, sha256=second),
            ]
        )
        with pytest.raises(Conflict) as info:
            store.get_scan(sha256="ABC123")
        assert str(info.value) == (
            "prefix abc123 matches 2 scans of different files; give more characters"
        )
        assert store.get_scan(sha256="abc1230").file.sha256 == first
        assert store.get_scan(sha256="abc123f").file.sha256 == second

    def test_prefix_of_one_file_scanned_twice_is_not_ambiguous(
        self, store: IScanStore
    ) -> None:
        sha = digest("twice")
        store.save_scan(result=make_result(seed=1, sha256=sha, path="/old.png"))
        store.save_scan(result=make_result(seed=2, sha256=sha, path="/new.png"))
        assert store.get_scan(sha256=sha[:6]).file.path == "/new.png"

    def test_unknown_sha256_is_not_found(self, store: IScanStore) -> None:
        store.save_scan(result=make_result(seed=1))
        with pytest.raises(NotFound) as info:
            store.get_scan(sha256=digest("never scanned"))
        assert info.value.user_error
        with pytest.raises(NotFound):
            store.get_scan(sha256="ffffff")

    def test_nothing_is_found_in_an_empty_store(self, store: IScanStore) -> None:
        with pytest.raises(NotFound):
            store.get_scan(sha256=digest(1)[:6])

    @pytest.mark.parametrize("query", ["", "abc12", "zzzzzz", "abc12-", "a" * 65])
    def test_unusable_query_is_not_found(self, store: IScanStore, query: str) -> None:
        store.save_scan(result=make_result(sha256="a" * 64))
        with pytest.raises(NotFound, match="at least 6"):
            store.get_scan(sha256=query)

    def test_scan_without_sha256_is_listed_but_never_found(
        self, store: IScanStore
    ) -> None:
        store.save_scan(result=make_result(sha256=None))
        [summary] = store.list_scans()
        assert summary.sha256 is None
        with pytest.raises(NotFound):
            store.get_scan(sha256="000000")

    # list_scans

    def test_list_is_newest_first_by_scan_time(self, store: IScanStore) -> None:
        seeds = [3, 1, 4, 0, 2]
        ids = store.save_scans(results=[make_result(seed=s) for s in seeds])
        listed = store.list_scans()
        assert [s.path for s in listed] == [
            f"/data/upload-{s:04d}.png" for s in (4, 3, 2, 1, 0)
        ]
        assert sorted(s.id for s in listed) == sorted(ids)

    def test_list_orders_instants_not_text(self, store: IScanStore) -> None:
        # 10:00 at +08:00 is 02:00 UTC, before 03:00 UTC.
        store.save_scan(
            result=make_result(seed=1, scanned_at="2025-01-01T10:00:00+08:00")
        )
        store.save_scan(
            result=make_result(seed=2, scanned_at="2025-01-01T03:00:00+00:00")
        )
        first, second = store.list_scans()
        assert first.scanned_at == dt.datetime(2025, 1, 1, 3, tzinfo=dt.UTC)
        assert second.scanned_at == dt.datetime(2025, 1, 1, 2, tzinfo=dt.UTC)
        assert second.scanned_at.utcoffset() == dt.timedelta(0)

    def test_list_breaks_time_ties_by_latest_save(self, store: IScanStore) -> None:
        ids = store.save_scans(
            results=[make_result(seed=i, scanned_at=T0) for i in range(4)]
        )
        assert [s.id for s in store.list_scans()] == ids[::-1]

    def test_list_pages_with_limit_and_offset(self, store: IScanStore) -> None:
        store.save_scans(results=[make_result(seed=i) for i in range(10)])
        everything = store.list_scans(limit=100)
        assert len(everything) == 10
        assert store.list_scans(limit=3) == everything[:3]
        assert store.list_scans(limit=3, offset=3) == everything[3:6]
        assert store.list_scans(limit=5, offset=8) == everything[8:]
        assert store.list_scans(offset=10) == []
        assert store.list_scans(limit=0) == []

    def test_list_defaults_to_fifty(self, store: IScanStore) -> None:
        store.save_scans(results=[make_result(seed=i, findings=0) for i in range(60)])
        assert len(store.list_scans()) == 50

    def test_list_rejects_negative_paging(self, store: IScanStore) -> None:
        with pytest.raises(ValueError, match="negative"):
            store.list_scans(limit=-1)
        with pytest.raises(ValueError, match="negative"):
            store.list_scans(offset=-1)

    def test_list_filters_by_label(self, store: IScanStore) -> None:
        labels: list[AigcLabel | None] = ["1", "3", None, "1", "2", None]
        store.save_scans(
            results=[make_result(seed=i, label=lab) for i, lab in enumerate(labels)]
        )
        assert [s.aigc_label for s in store.list_scans(label="1")] == ["1", "1"]
        assert len(store.list_scans(label="2")) == 1
        assert [s.aigc_label for s in store.list_scans(label=NO_LABEL)] == [None, None]
        assert store.list_scans(label="9") == []
        assert len(store.list_scans(label="1", limit=1, offset=1)) == 1

    def test_list_filters_by_time(self, store: IScanStore) -> None:
        store.save_scans(results=[make_result(seed=i) for i in range(10)])
        since = T0 + dt.timedelta(seconds=6)
        assert [s.scanned_at for s in store.list_scans(since=since)] == [
            T0 + dt.timedelta(seconds=n) for n in (9, 8, 7, 6)
        ]
        naive = since.replace(tzinfo=None)
        assert len(store.list_scans(since=naive)) == 4
        beijing = since.astimezone(dt.timezone(dt.timedelta(hours=8)))
        assert len(store.list_scans(since=beijing)) == 4
        assert len(store.list_scans(since=since, label="1")) == 0

    def test_summary_describes_the_scan(self, store: IScanStore) -> None:
        result = rich_result()
        [id_] = store.save_scans(results=[result])
        [summary] = store.list_scans()
        assert summary == ScanSummary(
            id=id_,
            scanned_at=T0 + dt.timedelta(seconds=7),
            path="/数据/上传 文件 #1.png",
            sha256=digest(7),
            kind="image",
            mime="image/png",
            size=1007,
            aigc_label="3",
            finding_count=3,
            error_count=2,
        )
        assert json.loads(json.dumps(summary.to_dict()))["finding_count"] == 3

    def test_count_scans(self, store: IScanStore) -> None:
        assert store.count_scans() == 0
        store.save_scan(result=make_result(seed=1))
        store.save_scans(results=[make_result(seed=2), make_result(seed=3)])
        assert store.count_scans() == 3

    # lifecycle

    def test_closed_store_refuses_calls(self, store: IScanStore) -> None:
        store.save_scan(result=make_result(seed=1))
        store.close()
        store.close()
        with pytest.raises(StorageError, match="closed"):
            store.count_scans()
        with pytest.raises(StorageError, match="closed"):
            store.save_scans(results=[])
        with pytest.raises(StorageError, match="closed"):
            store.get_scan(sha256=digest(1))

    def test_store_is_a_context_manager(self, store: IScanStore) -> None:
        with store as same:
            assert same is store
            same.save_scan(result=make_result(seed=1))
        with pytest.raises(StorageError):
            store.list_scans()


def _record(tag: int, cid: int, produce_id: str, **kw: object) -> LabelRecord:
    fields = {
        "Label": "1",
        "ContentProducer": "001191440300708461136T1XGW3",
        "ProduceID": produce_id,
    }
    return LabelRecord(
        producer_tag=tag,
        content_id=cid,
        fields=fields,
        created_at=kw.pop("created_at", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),  # type: ignore[arg-type]
        sha256=kw.pop("sha256", "ab" * 32),  # type: ignore[arg-type]
        path="/out/a.png",
    )


class TestLabelRecords:
    """Watermark payloads map back to the producer's label fields."""

    def test_exact_lookup_returns_the_fields(self, store: IStore) -> None:
        rid = store.save_label_record(record=_record(0xABCDE, 2**43 + 5, "p1"))
        store.save_label_record(record=_record(0xABCDE, 7, "p2"))
        [found] = store.find_label_records(
            producer_tags=(0xABCDE, 0xABCDE), content_ids=(2**43 + 5, 2**43 + 5)
        )
        assert found.id == rid
        assert found.produce_id == "p1"
        assert found.producer == "001191440300708461136T1XGW3"
        assert found.content_id == 2**43 + 5  # 44-bit IDs survive the database

    def test_range_lookup_serves_short_payloads(self, store: IStore) -> None:
        store.save_label_record(record=_record(0xABC12, 0x123456789AB, "p1"))
        store.save_label_record(record=_record(0xABD00, 0x123456789AB, "p2"))
        found = store.find_label_records(
            producer_tags=(0xABC00, 0xABCFF),
            content_ids=(0x12345000000, 0x12345FFFFFF),
        )
        assert [r.produce_id for r in found] == ["p1"]

    def test_same_output_is_recorded_once(self, store: IStore) -> None:
        first = store.save_label_record(record=_record(1, 2, "p1"))
        again = store.save_label_record(record=_record(1, 2, "p1"))
        other = store.save_label_record(record=_record(1, 2, "p1", sha256="cd" * 32))
        assert first == again != other

    def test_newest_first(self, store: IStore) -> None:
        old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        new = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
        store.save_label_record(record=_record(1, 2, "old", created_at=old))
        store.save_label_record(record=_record(1, 2, "new", created_at=new))
        found = store.find_label_records(producer_tags=(1, 1), content_ids=(2, 2))
        assert [r.produce_id for r in found] == ["new", "old"]
