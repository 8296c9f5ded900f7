"""Outgoing webhooks: agencies subscribe a URL to public events and receive them signed the
Standard Webhooks way (`signing.py`), retried with exponential backoff for up to a day
(`delivery.py`), with a delivery log and replay (`api.py`)."""
