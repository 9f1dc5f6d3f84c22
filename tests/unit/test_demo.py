from stream.tools.demo import News


def test_the_live_table_is_printed_only_when_something_moved():
    news = News()
    assert news.tell(100, 10, replaying=True) == "moved"
    assert news.tell(100, 10, replaying=True) is None  # a slow stretch, still replaying
    assert news.tell(250, 12, replaying=True) == "moved"


def test_a_replayed_shop_is_said_to_have_settled_once():
    news = News()
    news.tell(60_000, 500, replaying=False)
    assert news.tell(60_000, 500, replaying=False) == "settled"
    assert [news.tell(60_000, 500, replaying=False) for _ in range(3)] == [None] * 3
    # Anything arriving later (a late change) is shown, and settling is said again after it.
    assert news.tell(60_000, 501, replaying=False) == "moved"
    assert news.tell(60_000, 501, replaying=False) == "settled"
