"""The IPersonStore contract (the likeness registry), on every store.

Runs on memory, SQLite and, when ``DEEPGUARD_TEST_POSTGRES_URL`` is set,
PostgreSQL, like the scan-store contract; then the rules of the registry's
domain values, which every store relies on.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from deepguard.accounts import account_key
from deepguard.errors import Conflict, InvalidSignal, NotFound, StorageError
from deepguard.store.interface import (
    FACE_DIMS,
    VOICE_DIMS,
    Authorisation,
    FaceReference,
    IStore,
    OfficialAccount,
    Person,
    ReferenceIds,
    Scope,
    Verification,
    VoiceReference,
    parse_account,
)
from deepguard.store.sql import SqlStore

from .factories import T0, digest
from .test_interface_contract import BACKENDS, open_store

BEIJING = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IStore]:
    opened = open_store(request.param, tmp_path)
    yield opened
    opened.close()


def vector(dims: int, seed: int) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).standard_normal(dims).astype(np.float32)


def face(seed: int, **kw: object) -> FaceReference:
    values: dict[str, object] = {
        "sha256": digest(f"face {seed}"),
        "box": (10 + seed, 20, 120, 130),
        "quality": 0.75,
        "embedding": vector(FACE_DIMS, seed),
        "source": f"/photos/{seed}.jpg",
        "created_at": T0,
    }
    values.update(kw)
    return FaceReference(**values)  # type: ignore[arg-type]


def voice(seed: int, **kw: object) -> VoiceReference:
    values: dict[str, object] = {
        "sha256": digest(f"voice {seed}"),
        "speech_s": 7.25,
        "embedding": vector(VOICE_DIMS, seed),
        "source": f"/clips/{seed}.flac",
        "created_at": T0,
    }
    values.update(kw)
    return VoiceReference(**values)  # type: ignore[arg-type]


def person(store: IStore, name: str = "Rose Leslie", **kw: object) -> Person:
    return store.add_person(person=Person(name=name, created_at=T0, **kw))  # type: ignore[arg-type]


class TestPeople:
    def test_add_assigns_ids_and_round_trips(self, store: IStore) -> None:
        given = Person(
            name="  周   杰伦 ",
            aliases=("Jay Chou", "jay chou", "周杰伦", "Chou Chieh-lun"),
            notes="singer\nverified at the Taipei office",
            verification=Verification.DOCUMENT_CHECKED,
            created_at=dt.datetime(2026, 3, 1, 20, 0, tzinfo=BEIJING),
        )
        first = store.add_person(person=given)
        second = person(store, "Kit Harington")
        assert 0 < first.id < second.id
        assert first.name == "周 杰伦"
        assert first.aliases == ("Jay Chou", "周杰伦", "Chou Chieh-lun")
        assert first.created_at == dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
        assert store.get_person(person_id=first.id) == first
        assert store.list_people() == [first, second]

    def test_unknown_person_is_not_found(self, store: IStore) -> None:
        with pytest.raises(NotFound) as info:
            store.get_person(person_id=42)
        assert str(info.value) == "no person with id 42"
        assert info.value.user_error

    @pytest.mark.parametrize(
        ("query", "found"),
        [
            ("rose", ["Rose Leslie"]),
            ("LESLIE", ["Rose Leslie"]),
            ("  kit   harington ", ["Kit Harington"]),
            ("jon snow", ["Kit Harington"]),  # an alias
            ("o", ["Rose Leslie", "Kit Harington", "Barack Obama"]),
            ("STRASSE", ["Weiße Straße"]),  # case-folding, not only ASCII
            ("杰伦", ["周杰伦"]),
            ("%", ["100% Real"]),  # LIKE wildcards are literal
            ("_", ["snake_case"]),
            ("nobody", []),
        ],
    )
    def test_find_by_name_or_alias(
        self, store: IStore, query: str, found: list[str]
    ) -> None:
        person(store, "Rose Leslie")
        person(store, "Kit Harington", aliases=("Jon Snow",))
        person(store, "Barack Obama")
        person(store, "Weiße Straße")
        person(store, "周杰伦")
        person(store, "100% Real")
        person(store, "snake_case")
        person(store, "snakeXcase")
        assert [p.name for p in store.find_people(query=query)] == found

    def test_empty_query_finds_everyone(self, store: IStore) -> None:
        people = [person(store, name) for name in ("A", "B", "C")]
        assert store.find_people(query="  ") == people

    def test_remove_cascades_to_everything_of_the_person(self, store: IStore) -> None:
        rose = person(store, "Rose Leslie")
        kit = person(store, "Kit Harington")
        for who in (rose, kit):
            store.add_references(
                person_id=who.id, faces=[face(who.id)], voices=[voice(who.id)]
            )
            store.add_account(
                account=OfficialAccount(
                    person_id=who.id, platform="weibo", handle=f"user{who.id}"
                )
            )
            store.add_authorisation(
                authorisation=Authorisation(
                    person_id=who.id, grantee="Acme Ltd", scope=Scope.BOTH
                )
            )
        store.remove_person(person_id=rose.id)
        assert store.list_people() == [kit]
        assert [r.person_id for r in store.face_references()] == [kit.id]
        assert [r.person_id for r in store.voice_references()] == [kit.id]
        assert store.owner_of(platform="weibo", handle=f"user{rose.id}") is None
        assert store.owner_of(platform="weibo", handle=f"user{kit.id}") == kit
        assert len(store.authorisations(person_id=kit.id)) == 1
        for read in (
            store.face_references,
            store.voice_references,
            store.accounts,
            store.authorisations,
        ):
            with pytest.raises(NotFound):
                read(person_id=rose.id)
        with pytest.raises(NotFound):
            store.remove_person(person_id=rose.id)
        # The freed account can be registered again.
        store.add_account(
            account=OfficialAccount(
                person_id=kit.id, platform="weibo", handle=f"user{rose.id}"
            )
        )


class TestReferences:
    def test_add_returns_ids_in_input_order(self, store: IStore) -> None:
        who = person(store)
        ids = store.add_references(
            person_id=who.id, faces=[face(1), face(2)], voices=[voice(1)]
        )
        assert isinstance(ids, ReferenceIds)
        assert len(ids.faces) == 2 and ids.faces[0] < ids.faces[1]
        assert [r.id for r in store.face_references(person_id=who.id)] == ids.faces
        assert [r.id for r in store.voice_references(person_id=who.id)] == ids.voices

    def test_references_round_trip_exactly(self, store: IStore) -> None:
        who = person(store)
        embedding = vector(FACE_DIMS, 3)
        embedding[:4] = [1e-38, -0.0, 3.4e38, -1.5]
        given = face(3, embedding=embedding, created_at=T0.astimezone(BEIJING))
        spoken = voice(3)
        store.add_references(person_id=who.id, faces=[given], voices=[spoken])
        [got] = store.face_references(person_id=who.id)
        assert (got.person_id, got.sha256, got.box) == (who.id, given.sha256, given.box)
        assert (got.quality, got.source, got.created_at) == (0.75, given.source, T0)
        assert got.embedding.dtype == np.float32
        assert got.embedding.tobytes() == embedding.tobytes()  # bit for bit
        assert not got.embedding.flags.writeable
        [heard] = store.voice_references(person_id=who.id)
        assert heard.speech_s == 7.25
        assert np.array_equal(heard.embedding, spoken.embedding)

    def test_all_references_of_everyone_in_id_order(self, store: IStore) -> None:
        a, b = person(store, "A"), person(store, "B")
        store.add_references(person_id=a.id, faces=[face(1)])
        store.add_references(person_id=b.id, faces=[face(2)])
        store.add_references(person_id=a.id, faces=[face(3)])
        assert [(r.person_id, r.source) for r in store.face_references()] == [
            (a.id, "/photos/1.jpg"),
            (b.id, "/photos/2.jpg"),
            (a.id, "/photos/3.jpg"),
        ]
        assert store.voice_references() == []

    def test_an_enrolled_digest_is_a_conflict_and_nothing_is_added(
        self, store: IStore
    ) -> None:
        who = person(store)
        store.add_references(person_id=who.id, faces=[face(1)])
        revision = store.registry_revision()
        with pytest.raises(Conflict, match="already has a face reference") as info:
            store.add_references(
                person_id=who.id, faces=[face(2), face(1)], voices=[voice(1)]
            )
        assert "\n" not in str(info.value)
        assert len(store.face_references(person_id=who.id)) == 1
        assert store.voice_references(person_id=who.id) == []
        assert store.registry_revision() == revision

    def test_a_digest_twice_in_one_call_is_a_conflict(self, store: IStore) -> None:
        who = person(store)
        with pytest.raises(Conflict, match="given twice"):
            store.add_references(person_id=who.id, voices=[voice(1), voice(1)])
        assert store.voice_references(person_id=who.id) == []

    def test_same_digest_for_another_person_or_modality_is_allowed(
        self, store: IStore
    ) -> None:
        a, b = person(store, "A"), person(store, "B")
        sha = digest("one file")
        store.add_references(person_id=a.id, faces=[face(1, sha256=sha)])
        store.add_references(person_id=b.id, faces=[face(2, sha256=sha)])
        store.add_references(person_id=a.id, voices=[voice(1, sha256=sha)])
        assert len(store.face_references()) == 2

    def test_unknown_person_gets_nothing(self, store: IStore) -> None:
        with pytest.raises(NotFound):
            store.add_references(person_id=9, faces=[face(1)])
        with pytest.raises(NotFound):
            store.face_references(person_id=9)
        assert store.face_references() == []

    def test_reference_of_another_person_is_a_caller_bug(self, store: IStore) -> None:
        a, b = person(store, "A"), person(store, "B")
        with pytest.raises(ValueError, match="cannot be added"):
            store.add_references(person_id=a.id, faces=[face(1, person_id=b.id)])
        assert store.face_references() == []

    def test_adding_nothing_changes_nothing(self, store: IStore) -> None:
        who = person(store)
        revision = store.registry_revision()
        assert store.add_references(person_id=who.id) == ReferenceIds([], [])
        assert store.registry_revision() == revision


class TestAccounts:
    def test_accounts_are_normalised_and_found_ignoring_case(
        self, store: IStore
    ) -> None:
        kit = person(store, "Kit Harington")
        added = store.add_account(
            account=OfficialAccount(
                person_id=kit.id, platform=" Douyin ", handle="@KitH"
            )
        )
        assert (added.platform, added.handle, str(added)) == (
            "douyin",
            "KitH",
            "douyin:KitH",
        )
        assert store.accounts(person_id=kit.id) == [added]
        assert store.owner_of(platform="DOUYIN", handle="kith") == kit
        assert store.owner_of(platform="douyin", handle="@KITH ") == kit
        assert store.owner_of(platform="weibo", handle="KitH") is None

    def test_an_account_belongs_to_one_person(self, store: IStore) -> None:
        kit, rose = person(store, "Kit"), person(store, "Rose")
        store.add_account(
            account=OfficialAccount(person_id=kit.id, platform="douyin", handle="kith")
        )
        for owner in (kit, rose):
            with pytest.raises(Conflict) as info:
                store.add_account(
                    account=OfficialAccount(
                        person_id=owner.id, platform="douyin", handle="@KitH"
                    )
                )
            assert str(info.value) == (
                f"account douyin:KitH is already registered to person {kit.id}"
            )
        other_platform = store.add_account(
            account=OfficialAccount(person_id=rose.id, platform="weibo", handle="kith")
        )
        assert store.accounts(person_id=rose.id) == [other_platform]

    def test_remove_account(self, store: IStore) -> None:
        kit = person(store)
        added = store.add_account(
            account=OfficialAccount(person_id=kit.id, platform="x", handle="KitH")
        )
        assert store.remove_account(platform="X", handle="@kith") == added
        assert store.accounts(person_id=kit.id) == []
        with pytest.raises(NotFound, match="not registered"):
            store.remove_account(platform="x", handle="KitH")

    def test_accounts_of_unknown_person(self, store: IStore) -> None:
        with pytest.raises(NotFound):
            store.add_account(
                account=OfficialAccount(person_id=5, platform="x", handle="h")
            )
        with pytest.raises(NotFound):
            store.accounts(person_id=5)

    def test_malformed_lookup_is_refused(self, store: IStore) -> None:
        with pytest.raises(InvalidSignal):
            store.owner_of(platform="", handle="h")


class TestAuthorisations:
    def test_grants_round_trip(self, store: IStore) -> None:
        rose = person(store)
        start = dt.datetime(2026, 1, 1, 8, tzinfo=BEIJING)
        given = Authorisation(
            person_id=rose.id,
            grantee="Douyin:@AcmeShop",
            scope=Scope.FACE,
            valid_from=start,
            valid_until=start + dt.timedelta(days=30),
            note="contract 17",
        )
        added = store.add_authorisation(authorisation=given)
        licence = store.add_authorisation(
            authorisation=Authorisation(
                person_id=rose.id, grantee=" Acme  Media Ltd ", scope=Scope.BOTH
            )
        )
        assert added.id > 0 and added.grantee == "douyin:AcmeShop"
        assert added.valid_from == dt.datetime(2026, 1, 1, 0, tzinfo=dt.UTC)
        assert licence.grantee == "Acme Media Ltd"
        assert licence.valid_from is None and licence.valid_until is None
        assert store.authorisations(person_id=rose.id) == [added, licence]

    def test_remove_grant(self, store: IStore) -> None:
        rose = person(store)
        added = store.add_authorisation(
            authorisation=Authorisation(
                person_id=rose.id, grantee="x:fan", scope=Scope.VOICE
            )
        )
        assert store.remove_authorisation(authorisation_id=added.id) == added
        assert store.authorisations(person_id=rose.id) == []
        with pytest.raises(NotFound, match=f"no authorisation with id {added.id}"):
            store.remove_authorisation(authorisation_id=added.id)

    def test_grants_of_unknown_person(self, store: IStore) -> None:
        with pytest.raises(NotFound):
            store.add_authorisation(
                authorisation=Authorisation(person_id=3, grantee="x:a", scope="face")  # type: ignore[arg-type]
            )
        with pytest.raises(NotFound):
            store.authorisations(person_id=3)


class TestRevision:
    def test_changes_to_people_and_references_bump_it(self, store: IStore) -> None:
        seen = [store.registry_revision()]

        def bumped() -> bool:
            seen.append(store.registry_revision())
            return seen[-1] > seen[-2]

        who = person(store)
        assert bumped()
        store.add_references(person_id=who.id, faces=[face(1)])
        assert bumped()
        store.add_references(person_id=who.id, voices=[voice(1)])
        assert bumped()
        store.add_account(
            account=OfficialAccount(person_id=who.id, platform="x", handle="h")
        )
        store.add_authorisation(
            authorisation=Authorisation(person_id=who.id, grantee="y", scope="both")  # type: ignore[arg-type]
        )
        assert not bumped()  # the index holds neither
        store.remove_person(person_id=who.id)
        assert bumped()
        with pytest.raises(NotFound):
            store.remove_person(person_id=who.id)
        assert not bumped()


def test_closed_store_refuses_registry_calls(store: IStore) -> None:
    who = person(store)
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.get_person(person_id=who.id)
    with pytest.raises(StorageError, match="closed"):
        store.add_references(person_id=who.id, faces=[face(1)])
    with pytest.raises(StorageError, match="closed"):
        store.registry_revision()


def test_sql_store_refuses_a_stored_embedding_of_the_wrong_length(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deepguard.db"
    with SqlStore.open(f"sqlite:///{path}") as store:
        who = person(store)
        store.add_references(person_id=who.id, faces=[face(1)])
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE face_references SET embedding = x'00000000'")
    conn.close()
    with (
        SqlStore.open(f"sqlite:///{path}") as store,
        pytest.raises(
            StorageError, match=r"face_references row 1 .* 4 bytes, expected 512"
        ),
    ):
        store.face_references()


# The domain values every store relies on.


class TestDomain:
    @pytest.mark.parametrize(
        ("grantee", "account"),
        [
            ("douyin:@Shop", ("douyin", "Shop")),
            (" Weibo : shop ", ("weibo", "shop")),
            ("Acme Media Ltd", None),
            ("Acme: marketing team", None),  # whitespace in the handle
            ("a b:c", None),
            (":shop", None),
            ("douyin:", None),
        ],
    )
    def test_grantee_is_an_account_or_a_licensee(
        self, grantee: str, account: tuple[str, str] | None
    ) -> None:
        assert parse_account(grantee) == account
        grant = Authorisation(person_id=1, grantee=grantee, scope=Scope.FACE)
        assert grant.account == account

    @pytest.mark.parametrize(
        ("platform", "handle"),
        [
            ("Douyin", "@Star"),
            (" weibo ", " @ Star_1 "),
            ("x.com", "ÉTOILE"),
            ("bilibili", "12345678"),
            ("kuaishou", "straße"),
        ],
    )
    def test_accounts_normalise_like_scan_uploaders(
        self, platform: str, handle: str
    ) -> None:
        accounts = pytest.importorskip("deepguard.accounts")
        uploader = accounts.AccountRef(platform, handle)
        assert account_key(platform, handle) == (uploader.platform, uploader.handle)
        registered = OfficialAccount(person_id=1, platform=platform, handle=handle)
        assert registered.key == account_key(uploader.platform, uploader.handle)

    def test_scope_rules(self) -> None:
        assert Scope.BOTH.includes(Scope.FACE) and Scope.BOTH.includes(Scope.VOICE)
        assert Scope.FACE.includes(Scope.FACE)
        assert not Scope.FACE.includes(Scope.VOICE)
        assert not Scope.FACE.includes(Scope.BOTH)

    def test_covers_checks_scope_and_window(self) -> None:
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        end = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
        grant = Authorisation(
            person_id=1,
            grantee="x:a",
            scope=Scope.FACE,
            valid_from=start,
            valid_until=end,
        )
        assert grant.covers(Scope.FACE, start)  # from is inclusive
        assert grant.covers("face", end - dt.timedelta(microseconds=1))
        assert not grant.covers(Scope.FACE, end)  # until is exclusive
        assert not grant.covers(Scope.FACE, start - dt.timedelta(seconds=1))
        assert not grant.covers(Scope.VOICE, start)
        assert not grant.covers(Scope.BOTH, start)
        # 2026-01-01 07:00 in Beijing is still 2025 in UTC.
        assert not grant.covers(Scope.FACE, dt.datetime(2026, 1, 1, 7, tzinfo=BEIJING))
        assert grant.covers(Scope.FACE, dt.datetime(2026, 1, 1, 9, tzinfo=BEIJING))
        open_ended = Authorisation(person_id=1, grantee="x:a", scope=Scope.BOTH)
        assert open_ended.covers(Scope.VOICE, dt.datetime(1990, 1, 1, tzinfo=dt.UTC))

    def test_grants_account_ignores_case_and_at(self) -> None:
        grant = Authorisation(person_id=1, grantee="douyin:Shop", scope=Scope.FACE)
        assert grant.grants_account("DOUYIN", "@shop")
        assert not grant.grants_account("weibo", "shop")
        licence = Authorisation(person_id=1, grantee="Shop Ltd", scope=Scope.FACE)
        assert not licence.grants_account("douyin", "shop")

    @pytest.mark.parametrize(
        ("make", "message"),
        [
            (lambda: Person(name="  "), "name must not be empty"),
            (lambda: Person(name="x" * 257), "257 characters"),
            (lambda: Person(name="a", aliases=("",)), "alias must not be empty"),
            (lambda: Person(name="a", verification="famous"), "unknown verification"),
            (lambda: OfficialAccount(person_id=1, platform="", handle="h"), "platform"),
            (lambda: OfficialAccount(person_id=1, platform="x", handle="@"), "handle"),
            (
                lambda: OfficialAccount(person_id=1, platform="x", handle="a b"),
                "handle",
            ),
            (
                lambda: OfficialAccount(person_id=1, platform="x", handle="a\x00"),
                "printable",
            ),
            (
                lambda: OfficialAccount(person_id=1, platform="we bo", handle="a"),
                "platform",
            ),
            (
                lambda: Authorisation(person_id=1, grantee=" ", scope=Scope.FACE),
                "grantee",
            ),
            (
                lambda: Authorisation(person_id=1, grantee="a", scope="all"),
                "unknown scope",
            ),
            (
                lambda: Authorisation(
                    person_id=1,
                    grantee="a",
                    scope=Scope.FACE,
                    valid_from=T0,
                    valid_until=T0,
                ),
                "ends",
            ),
            (lambda: face(1, sha256="abc"), "not a sha256"),
            (lambda: face(1, box=(0, 0, 0, 10)), "positive width"),
            (lambda: face(1, box=(0, 0, 10)), "four integers"),
            (lambda: face(1, quality=1.5), "between 0 and 1"),
            (lambda: face(1, quality=float("nan")), "between 0 and 1"),
            (lambda: face(1, embedding=np.zeros(127)), r"shape \(127,\)"),
            (lambda: face(1, embedding=vector(VOICE_DIMS, 1)), r"expected \(128,\)"),
            (lambda: voice(1, embedding=np.full(VOICE_DIMS, np.nan)), "NaN"),
            (lambda: voice(1, speech_s=-1.0), "non-negative"),
        ],
    )
    def test_malformed_values_are_refused_in_one_line(
        self, make: object, message: str
    ) -> None:
        assert callable(make)
        with pytest.raises(InvalidSignal, match=message) as info:
            make()
        assert "\n" not in str(info.value)
        assert info.value.user_error

    def test_embeddings_are_private_read_only_copies(self) -> None:
        mine = vector(FACE_DIMS, 1)
        ref = face(1, embedding=mine)
        mine[0] = 99.0
        assert ref.embedding[0] != 99.0
        with pytest.raises(ValueError, match="read-only"):
            ref.embedding[0] = 1.0

    def test_to_dict_is_json_ready_without_embeddings(self) -> None:
        ref = face(1, person_id=2, id=3)
        assert ref.to_dict() == {
            "id": 3,
            "person_id": 2,
            "sha256": digest("face 1"),
            "box": [11, 20, 120, 130],
            "quality": 0.75,
            "source": "/photos/1.jpg",
            "created_at": T0.isoformat(),
        }
        grant = Authorisation(person_id=1, grantee="x:@a", scope=Scope.BOTH)
        assert grant.to_dict()["grantee"] == "x:a"
        assert grant.to_dict()["valid_until"] is None
        assert Person(name="a").to_dict()["verification"] == "unverified"
