"""Dialect clients: build, sign and send provider wallet calls the way each provider does."""
