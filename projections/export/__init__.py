"""Auditor export: the events of a round, session or period, hash-chained and signed;
verified offline with the bridge's public key, or against the log itself."""
