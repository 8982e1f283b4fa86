"""`make chaos` / `livebridge chaos`: simulated load under faults at random moments, judged
by the history checker (`services.checker`).

`processes.py` starts and controls what a fault hits (nats-server, the bridge, a private
PostgreSQL, the platform's webhook receiver), each a `Target` with the same verbs;
`faults.py` draws the schedule from a seed (the same seed, the same schedule) and carries
each fault out; `load.py` plays tables in the five wallet dialects, pushes their game events
and funds players through the platform API, recording every call in the history; `run.py`
puts them together, asks the checker for the verdict and writes `.livebridge/chaos.json`.
"""
