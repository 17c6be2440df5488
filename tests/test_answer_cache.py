"""The availability answers' store (bookings/answer_cache.py): bounded, emptied by `clear()` as the benches and
tests that measure a cold answer expect."""

from bookings.answer_cache import AnswerCache


def test_at_its_bound_the_oldest_third_is_dropped_and_clear_empties_it():
    cache = AnswerCache("test-answers", {"OPTIONS": {"MAX_ENTRIES": 6}})
    cache.clear()
    for n in range(6):
        cache.set(("answer", n), b"%d" % n)
    assert cache.get(("answer", 0)) == b"0"
    cache.set(("answer", 6), b"6")  # full: the two put first go
    assert [cache.get(("answer", n)) for n in range(7)] == [None, None, b"2", b"3", b"4", b"5", b"6"]
    cache.set(("answer", 3), b"three")  # a key already there is replaced, nothing dropped
    assert cache.get(("answer", 2)) == b"2" and cache.get(("answer", 3)) == b"three"
    cache.clear()
    assert cache.get(("answer", 6)) is None
