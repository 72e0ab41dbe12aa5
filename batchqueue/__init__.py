"""batchqueue: contact spreadsheets to Insight outbound survey calls, through a durable ledger."""

__version__ = "0.1.0"
