"""Streaming customer segmentation on Kafka: RFM, value tiers, lifecycle and churn risk."""

__version__ = "0.1.0"
