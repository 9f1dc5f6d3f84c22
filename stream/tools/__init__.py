"""Command-line tools around the core: generate, replay, backtest, bench, lag, demo."""
