from stream.tools.demo import News


def test_the_live_table_is_printed_only_when_something_moved():
    news = News()
    assert news.tell(100, 10, replaying=True) == "moved"
    assert news.tell(100, 10, replaying=True) is None  # a slow stretch, still replaying
    assert news.tell(250, 12, replaying=True) == "moved"


def test_a_replayed_shop_is_said_to_have_settled_once_it_stayed_still():
    news = News()
    news.tell(60_000, 500, replaying=False)
    # Not at once: the worker may still hold the last records back for a while.
    quiet = [news.tell(60_000, 500, replaying=False) for _ in range(News.QUIET_TELLS + 3)]
    assert quiet == [None] * (News.QUIET_TELLS - 1) + ["settled"] + [None] * 3
    # Anything arriving later (the held records) is shown, and settling is said again after.
    assert news.tell(60_000, 501, replaying=False) == "moved"
    quiet = [news.tell(60_000, 501, replaying=False) for _ in range(News.QUIET_TELLS)]
    assert quiet[-1] == "settled"
