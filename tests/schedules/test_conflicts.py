"""Room conflicts: blocked windows with lead-in/out, touching allowed, finished bookings ignored."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules.conflicts import (
    candidate_views,
    check_no_conflicts,
    excluding_seminar,
    existing_for_update,
    find_conflicts,
    still_ahead,
)
from schedules.desired import what_should_be_live
from schedules.domain import OccurrenceState, OccurrenceTime, OccurrenceView
from schedules.errors import SeminarConflict
from tests.schedules.builders import t, utc, view

S = OccurrenceState


@pytest.mark.parametrize(
    ("candidate", "existing", "conflicts"),
    [
        (view("c", "12:00", "14:00"), view("e", "10:00", "12:00"), False),  # touching
        (view("c", "08:00", "10:00"), view("e", "10:00", "12:00"), False),  # touching, before
        (view("c", "11:59", "14:00"), view("e", "10:00", "12:00"), True),
        (view("c", "12:00", "14:00", lead_in=5), view("e", "10:00", "12:00"), True),
        (view("c", "12:00", "14:00"), view("e", "10:00", "12:00", lead_out=1), True),
        (view("c", "12:05", "14:00", lead_in=5), view("e", "10:00", "12:00"), False),
        (view("c", "12:35", "14:00", lead_in=5), view("e", "10:00", "12:00", lead_out=30), False),
        (view("c", "12:34", "14:00", lead_in=5), view("e", "10:00", "12:00", lead_out=30), True),
        (view("c", "10:30", "11:00"), view("e", "10:00", "12:00"), True),  # contained
        (view("c", "09:00", "13:00"), view("e", "10:00", "12:00"), True),  # containing
        (view("c", "10:00", "12:00", room=2), view("e", "10:00", "12:00"), False),
        (view("c", "10:00", "12:00", state=S.CANCELLED), view("e", "10:00", "12:00"), False),
        (view("c", "10:00", "12:00"), view("e", "10:00", "12:00", state=S.CANCELLED), False),
        (view("c", "10:00", "12:00"), view("e", "10:00", "12:00", state=S.ENDED), False),
        (view("c", "10:00", "12:00"), view("e", "10:00", "12:00", state=S.MISSED), False),
        (view("c", "10:00", "12:00"), view("e", "10:00", "12:00", state=S.FAILED), False),
        (view("c", "10:00", "12:00"), view("e", "11:00", "13:00", state=S.LIVE), True),
    ],
)
def test_pairwise_conflicts(
    candidate: OccurrenceView, existing: OccurrenceView, conflicts: bool
) -> None:
    found = find_conflicts([candidate], [existing])
    assert bool(found) is conflicts
    if conflicts:
        assert (found[0].candidate, found[0].existing) == (candidate, existing)


def test_candidates_of_one_series_may_conflict_with_each_other() -> None:
    moved = view("c2", "10:30", "11:30")  # an occurrence moved onto its sibling
    found = find_conflicts([view("c1", "10:00", "11:00"), moved], [])
    assert [(c.candidate.id, c.existing.id) for c in found] == [("c2", "c1")]


def test_existing_overlaps_among_themselves_are_not_reported() -> None:
    existing = [view("e1", "10:00", "12:00"), view("e2", "11:00", "13:00")]
    assert find_conflicts([view("c", "14:00", "15:00")], existing) == []


def test_an_edited_occurrence_does_not_conflict_with_its_old_self() -> None:
    stored = view(7, "10:00", "12:00", seminar_id=3)
    extended = view(7, "10:00", "12:30", seminar_id=3)
    following = view(8, "12:15", "13:00", seminar_id=4)
    found = find_conflicts([extended], [stored, following])
    assert [(c.candidate.id, c.existing.id) for c in found] == [(7, 8)]


def test_conflicts_are_sorted_and_every_one_is_listed() -> None:
    existing = [view(i, t(f"{10 + i}:00"), t(f"{10 + i}:45")) for i in range(4)]
    found = find_conflicts([view("c", "09:00", "14:00")], reversed(existing))
    assert [c.existing.id for c in found] == [0, 1, 2, 3]
    assert found[1].overlap_start == t("11:00") and found[1].overlap_end == t("11:45")


def test_seminar_conflict_names_both_sides_for_the_409_body() -> None:
    candidate = view("c", "18:00", "20:00", lead_in=10, title="Python für Einsteiger")
    existing = view(42, "16:00", "17:55", seminar_id=9, title="Yoga am Abend")
    with pytest.raises(SeminarConflict) as caught:
        check_no_conflicts([candidate], [existing])
    error = caught.value
    assert error.code == "seminar_conflict"
    assert "'Python für Einsteiger' (2027-05-04 18:00–20:00 UTC)" in error.message
    assert "'Yoga am Abend' (2027-05-04 16:00–17:55 UTC)" in error.message
    (detail,) = error.details()
    assert detail["existing"]["id"] == 42
    assert detail["existing"]["title"] == "Yoga am Abend"
    assert detail["candidate"]["blocked_start"] == "2027-05-04T17:50:00+00:00"
    assert detail["overlap_end"] == "2027-05-04T17:55:00+00:00"
    json.dumps(error.details())  # must be JSON-ready as is
    check_no_conflicts([candidate], [])  # no conflict: no error


def test_update_helpers_exclude_the_edited_series_and_the_past() -> None:
    existing = [
        view(1, "08:00", "09:00", seminar_id="a"),
        view(2, "10:00", "11:00", seminar_id="a"),
        view(3, "10:00", "11:00", seminar_id="b"),
        view(4, "08:00", "09:00", seminar_id="b", lead_out=30),
        view(5, "07:00", "08:00", seminar_id="b"),
    ]
    assert [o.id for o in excluding_seminar(existing, "a")] == [3, 4, 5]
    assert [o.id for o in still_ahead(existing, t("09:00"))] == [2, 3, 4]
    assert [o.id for o in existing_for_update(existing, "a", t("09:00"))] == [3, 4]


def test_candidate_views_from_expanded_times() -> None:
    week = timedelta(days=7)
    times = [
        OccurrenceTime("2027-05-04T12:00:00", t("10:00"), t("11:00")),
        OccurrenceTime("2027-05-11T12:00:00", t("10:00") + week, t("11:00") + week, cancelled=True),
    ]
    views = candidate_views(
        times,
        seminar_id=None,
        room_id=1,
        title="Neu",
        lead_in=timedelta(minutes=5),
        lead_out=timedelta(0),
    )
    assert [(v.id, v.state, v.blocked_start) for v in views] == [
        ("2027-05-04T12:00:00", S.SCHEDULED, t("09:55")),
        ("2027-05-11T12:00:00", S.CANCELLED, t("09:55") + week),
    ]


def _brute_force(
    candidates: list[OccurrenceView], existing: list[OccurrenceView]
) -> set[frozenset[object]]:
    pairs: set[frozenset[object]] = set()
    for i, a in enumerate(candidates):
        for b in candidates[i + 1 :] + existing:
            if a.room_id != b.room_id or not (a.blocks_room and b.blocks_room):
                continue
            if a.blocked_start < b.blocked_end and b.blocked_start < a.blocked_end:
                pairs.add(frozenset((a.id, b.id)))
    return pairs


def _random_views(rng: random.Random, count: int, prefix: str) -> list[OccurrenceView]:
    views = []
    for i in range(count):
        start = utc(2027, 1, 1) + timedelta(minutes=15 * rng.randrange(0, 4 * 24 * 60))
        views.append(
            view(
                f"{prefix}{i}",
                start,
                start + timedelta(minutes=15 * rng.randrange(1, 16)),
                room=rng.randrange(3),
                lead_in=rng.choice((0, 5, 15)),
                lead_out=rng.choice((0, 10)),
                state=rng.choice((S.SCHEDULED, S.SCHEDULED, S.LIVE, S.CANCELLED)),
            )
        )
    return views


def test_sweep_agrees_with_brute_force_on_a_few_thousand_bookings() -> None:
    rng = random.Random(20270328)
    candidates, existing = _random_views(rng, 150, "c"), _random_views(rng, 3000, "e")
    found = find_conflicts(candidates, existing)
    assert {frozenset((c.candidate.id, c.existing.id)) for c in found} == _brute_force(
        candidates, existing
    )
    assert len(found) == len({frozenset((c.candidate.id, c.existing.id)) for c in found})


booking = st.tuples(
    st.integers(0, 2),  # room
    st.integers(0, 400),  # start, in 5-minute steps
    st.integers(1, 30),  # duration, in 5-minute steps
    st.sampled_from((0, 5, 15, 60)),  # lead-in minutes
    st.sampled_from((0, 10, 30)),  # lead-out minutes
    st.booleans(),  # cancelled
)


@settings(max_examples=100, deadline=None)
@given(st.lists(booking, max_size=40))
def test_accepting_only_conflict_free_bookings_keeps_rooms_free_of_overlap(
    requests: list[tuple[int, int, int, int, int, bool]],
) -> None:
    accepted: list[OccurrenceView] = []
    for i, (room, start, duration, lead_in, lead_out, cancelled) in enumerate(requests):
        begin = t("00:00") + timedelta(minutes=5 * start)
        candidate = view(
            i,
            begin,
            begin + timedelta(minutes=5 * duration),
            room=room,
            lead_in=lead_in,
            lead_out=lead_out,
            state=S.CANCELLED if cancelled else S.SCHEDULED,
        )
        if not find_conflicts([candidate], accepted):
            accepted.append(candidate)
    blocking = [o for o in accepted if o.blocks_room]
    for a, b in combinations(blocking, 2):
        if a.room_id == b.room_id:
            assert a.blocked_end <= b.blocked_start or b.blocked_end <= a.blocked_start
    # Hence never two seminars running in one room: check every instant where anything changes.
    for instant in {o.blocked_start for o in blocking} | {o.blocked_end for o in blocking}:
        live = what_should_be_live(accepted, instant)
        live_rooms = [o.room_id for o in accepted if o.id in live]
        assert len(live_rooms) == len(set(live_rooms))


def test_early_start_blocks_the_room_from_then_on() -> None:
    previous = view("p", "08:00", "09:30", state=S.LIVE, lead_out=10)
    started = view("c", "10:00", "11:00", lead_in=5, actual_start="09:35")
    assert started.blocked_start == t("09:35")
    assert [c.existing.id for c in find_conflicts([started], [previous])] == ["p"]
