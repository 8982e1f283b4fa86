"""Provider simulators: dialect clients, live tables, the `livebridge simulate` command."""
