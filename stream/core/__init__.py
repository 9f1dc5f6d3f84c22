"""The segmentation core: plain, deterministic Python with no Faust or Kafka import.

Both shells (the Faust worker and the file backtest) drive :class:`stream.core.engine.Engine`.
"""
