"""Merging per-frame face hits and per-window voice hits into appearances.

What is asserted: the documented rules on hand-made cases (same track merges
across any gap, a long gap splits, two people at once stay apart, best
frame, box and score, ``min_hits``), and for any input (property tests):
every hit lies in exactly one appearance of its person, appearances of one
person are more than ``max_gap_s`` apart, best values are the best of the
hits inside, and the result does not depend on the input order.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepguard.errors import ConfigError, InvalidSignal
from deepguard.likeness.appearances import (
    Appearance,
    FaceHit,
    VoiceHit,
    merge_face_hits,
    merge_voice_hits,
)


def face(
    t: float,
    person: int = 1,
    track: int | None = None,
    score: float = 0.6,
    box: tuple[int, int, int, int] = (10, 20, 100, 100),
) -> FaceHit:
    return FaceHit(t, person, track, box, score, min(0.999, score + 0.3))


def voice(start: float, end: float, person: int = 1, score: float = 0.8) -> VoiceHit:
    return VoiceHit(start, end, person, score, score)


# --- faces, by rule ------------------------------------------------------------


def test_frames_close_in_time_are_one_appearance() -> None:
    hits = [face(t / 2, score=0.5 + t / 100) for t in range(10)]  # 0.0 .. 4.5 s
    hits[3] = face(1.5, score=0.9, box=(1, 2, 3, 4))
    [a] = merge_face_hits(hits)
    assert (a.person_id, a.modality, a.start_s, a.end_s) == (1, "face", 0.0, 4.5)
    assert (a.score, a.best_t, a.box, a.hits) == (0.9, 1.5, (1, 2, 3, 4), 10)
    assert a.probability == pytest.approx(0.999)
    assert a.duration_s == 4.5


def test_a_long_gap_starts_a_second_appearance() -> None:
    hits = [face(0.0), face(0.5), face(1.0), face(10.0), face(10.5)]
    first, second = merge_face_hits(hits, max_gap_s=2.0)
    assert (first.start_s, first.end_s, first.hits) == (0.0, 1.0, 3)
    assert (second.start_s, second.end_s, second.hits) == (10.0, 10.5, 2)


def test_a_gap_of_exactly_max_gap_still_merges() -> None:
    assert len(merge_face_hits([face(0.0), face(2.0)], max_gap_s=2.0)) == 1
    assert len(merge_face_hits([face(0.0), face(2.001)], max_gap_s=2.0)) == 2


def test_the_same_track_merges_across_any_gap() -> None:
    hits = [face(0.0, track=4), face(30.0, track=4), face(60.0, track=5)]
    tracked, other = merge_face_hits(hits, max_gap_s=2.0)
    assert (tracked.start_s, tracked.end_s, tracked.hits) == (0.0, 30.0, 2)
    assert other.start_s == 60.0 and other.track_id == 5


def test_an_untracked_hit_inside_a_track_joins_it() -> None:
    hits = [face(0.0, track=1), face(15.0, track=None), face(30.0, track=1)]
    [a] = merge_face_hits(hits, max_gap_s=2.0)
    assert (a.start_s, a.end_s, a.hits) == (0.0, 30.0, 3)


def test_two_people_at_once_stay_separate() -> None:
    hits = []
    for t in (0.0, 0.5, 1.0):
        hits += [face(t, person=1, track=1), face(t, person=2, track=2, score=0.7)]
    a, b = merge_face_hits(hits)
    assert (a.person_id, b.person_id) == (1, 2)
    assert a.hits == b.hits == 3
    assert (a.track_id, b.track_id, b.score) == (1, 2, 0.7)


def test_one_track_matched_to_two_people_gives_one_appearance_each() -> None:
    hits = [face(0.0, person=1, track=9), face(0.5, person=2, track=9)]
    assert [a.person_id for a in merge_face_hits(hits)] == [1, 2]


def test_best_frame_ties_go_to_the_earliest() -> None:
    hits = [
        face(2.0, score=0.8, box=(2, 2, 2, 2)),
        face(1.0, score=0.8, box=(1, 1, 1, 1)),
    ]
    [a] = merge_face_hits(hits)
    assert (a.best_t, a.box) == (1.0, (1, 1, 1, 1))


def test_track_id_and_box_come_from_the_best_hit() -> None:
    hits = [
        face(0.0, track=1, score=0.5),
        face(0.5, track=2, score=0.7, box=(5, 5, 9, 9)),
    ]
    [a] = merge_face_hits(hits)
    assert (a.track_id, a.box, a.best_t) == (2, (5, 5, 9, 9), 0.5)


def test_min_hits_drops_short_appearances() -> None:
    hits = [face(0.0), face(0.5), face(1.0), face(20.0)]
    [a] = merge_face_hits(hits, min_hits=2)
    assert a.hits == 3
    assert merge_face_hits(hits, min_hits=4) == []


def test_a_still_image_is_one_appearance_per_person() -> None:
    # Images have t = 0 for every face; the finder uses the face's index as
    # its track. Two faces of one person in one picture: one appearance.
    hits = [face(0.0, person=3, track=0), face(0.0, person=3, track=1, score=0.9)]
    hits.append(face(0.0, person=4, track=2))
    a, b = merge_face_hits(hits)
    assert (a.person_id, a.hits, a.score, a.start_s, a.end_s) == (3, 2, 0.9, 0.0, 0.0)
    assert b.person_id == 4


def test_no_hits_no_appearances() -> None:
    assert merge_face_hits([]) == []
    assert merge_voice_hits([]) == []
    assert merge_face_hits(iter([face(1.0)]))[0].hits == 1  # any iterable


def test_to_dict_is_json_ready() -> None:
    [a] = merge_face_hits([face(1.23456, track=2, score=0.612345)])
    assert a.to_dict() == {
        "modality": "face",
        "start_s": 1.235,
        "end_s": 1.235,
        "best_t": 1.235,
        "score": 0.6123,
        "probability": 0.912345,
        "box": [10, 20, 100, 100],
        "hits": 1,
        "track_id": 2,
    }
    [v] = merge_voice_hits([voice(0.0, 3.0)])
    assert v.to_dict()["box"] is None and v.to_dict()["track_id"] is None


# --- voices, by rule -------------------------------------------------------------


def test_overlapping_windows_merge_into_a_time_range() -> None:
    hits = [voice(0.0, 3.0), voice(1.5, 4.5, score=0.9), voice(3.0, 6.0)]
    [a] = merge_voice_hits(hits)
    assert (a.modality, a.start_s, a.end_s, a.hits) == ("voice", 0.0, 6.0, 3)
    assert (a.score, a.best_t, a.box, a.track_id) == (0.9, 3.0, None, None)


def test_voice_gaps_and_speakers() -> None:
    hits = [
        voice(0.0, 3.0),
        voice(3.5, 6.5),
        voice(9.0, 12.0),
        voice(1.5, 4.5, person=2),
    ]
    a, b, c = merge_voice_hits(hits, max_gap_s=1.0)
    assert [(x.person_id, x.start_s, x.end_s) for x in (a, b, c)] == [
        (1, 0.0, 6.5),
        (2, 1.5, 4.5),
        (1, 9.0, 12.0),
    ]


# --- bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: FaceHit(math.nan, 1, None, (0, 0, 1, 1), 0.5, 0.5),
        lambda: FaceHit(1.0, 1, None, (0, 0, 1, 1), math.inf, 0.5),
        lambda: VoiceHit(3.0, 2.0, 1, 0.8, 0.9),
        lambda: VoiceHit(0.0, math.nan, 1, 0.8, 0.9),
    ],
)
def test_malformed_hits_are_refused(make: object) -> None:
    with pytest.raises(InvalidSignal) as info:
        make()  # type: ignore[operator]
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "kwargs", [{"max_gap_s": -1.0}, {"max_gap_s": math.inf}, {"min_hits": 0}]
)
def test_bad_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        merge_face_hits([face(0.0)], **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        merge_voice_hits([voice(0.0, 1.0)], max_gap_s=-0.5)


# --- properties -------------------------------------------------------------------

times = st.integers(0, 400).map(lambda n: n / 4)  # 0 .. 100 s on a 0.25 s grid
face_hits = st.lists(
    st.builds(
        FaceHit,
        t=times,
        person_id=st.integers(1, 3),
        track_id=st.one_of(st.none(), st.integers(0, 4)),
        box=st.tuples(*[st.integers(0, 50)] * 4),
        score=st.floats(0.0, 1.0),
        probability=st.floats(0.0, 1.0),
    ),
    max_size=40,
)
voice_hits = st.lists(
    st.tuples(times, st.integers(1, 16).map(lambda n: n / 4), st.integers(1, 3)).map(
        lambda x: VoiceHit(x[0], x[0] + x[1], x[2], x[0] % 1.0, 0.5)
    ),
    max_size=40,
)
gaps = st.sampled_from([0.0, 0.5, 2.0, 7.5])


def holder(
    appearances: list[Appearance], person: int, t0: float, t1: float
) -> list[Appearance]:
    return [
        a
        for a in appearances
        if a.person_id == person and a.start_s <= t0 and t1 <= a.end_s
    ]


def check_separated(appearances: list[Appearance], max_gap_s: float) -> None:
    for person in {a.person_id for a in appearances}:
        mine = sorted(
            (a for a in appearances if a.person_id == person), key=lambda a: a.start_s
        )
        for before, after in itertools.pairwise(mine):
            assert after.start_s - before.end_s > max_gap_s


@settings(max_examples=200, deadline=None)
@given(face_hits, gaps, st.randoms(use_true_random=False))
def test_face_merge_properties(hits: list[FaceHit], max_gap_s: float, random) -> None:  # type: ignore[no-untyped-def]
    appearances = merge_face_hits(hits, max_gap_s=max_gap_s)
    assert sum(a.hits for a in appearances) == len(hits)
    check_separated(appearances, max_gap_s)
    for hit in hits:
        [a] = holder(appearances, hit.person_id, hit.t, hit.t)
        assert hit.score <= a.score and hit.probability <= a.probability
    tracks: dict[tuple[int, int], set[float]] = {}
    for hit in hits:
        if hit.track_id is not None:
            tracks.setdefault((hit.person_id, hit.track_id), set()).add(hit.t)
    for (person, _), ts in tracks.items():  # one track never splits
        assert len(holder(appearances, person, min(ts), max(ts))) == 1
    for a in appearances:
        inside = [
            h
            for h in hits
            if h.person_id == a.person_id and a.start_s <= h.t <= a.end_s
        ]
        assert len(inside) == a.hits
        best = [h for h in inside if h.score == a.score]
        assert any(
            (h.t, h.box, h.track_id) == (a.best_t, a.box, a.track_id) for h in best
        )
        assert a.start_s <= a.best_t <= a.end_s
        assert a.start_s in {h.t for h in inside} and a.end_s in {h.t for h in inside}
    shuffled = list(hits)
    random.shuffle(shuffled)
    assert merge_face_hits(shuffled, max_gap_s=max_gap_s) == appearances


@settings(max_examples=200, deadline=None)
@given(voice_hits, gaps, st.randoms(use_true_random=False))
def test_voice_merge_properties(hits: list[VoiceHit], max_gap_s: float, random) -> None:  # type: ignore[no-untyped-def]
    appearances = merge_voice_hits(hits, max_gap_s=max_gap_s)
    assert sum(a.hits for a in appearances) == len(hits)
    check_separated(appearances, max_gap_s)
    for hit in hits:
        [a] = holder(appearances, hit.person_id, hit.start_s, hit.end_s)
        assert hit.score <= a.score
    for a in appearances:
        inside = [
            h
            for h in hits
            if h.person_id == a.person_id
            and a.start_s <= h.start_s
            and h.end_s <= a.end_s
        ]
        assert len(inside) == a.hits
        assert a.start_s == min(h.start_s for h in inside)
        assert a.end_s == max(h.end_s for h in inside)
        assert a.score == max(h.score for h in inside)
        assert a.start_s <= a.best_t <= a.end_s
    shuffled = list(hits)
    random.shuffle(shuffled)
    assert merge_voice_hits(shuffled, max_gap_s=max_gap_s) == appearances
