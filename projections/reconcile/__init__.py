"""Batch reconcile: a provider's report against the ledger, differences to the audit queue."""
