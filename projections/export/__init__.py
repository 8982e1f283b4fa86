"""Auditor export: the events of a round, session or period, hash-chained, verified offline."""
