"""Game-event feeds: push webhooks, pulled pages and WebSocket streams, one pipeline.

Every transport decodes `contracts.feeds` messages and hands the events to a
`FeedProcessor`, which orders them per round by `seq` (duplicates absorbed, gaps reported
after a timeout) and records them, in order, on the `EventSink` (the ledger). Positions a
transport must survive a restart with (pull cursor, socket cursor, last seq per round)
live in a `CursorStore`: JetStream KV in production, a dict in unit tests.

    transport (push.py / pull.py / websocket.py)
        -> FeedProcessor (processor.py, sequencer.py)
            -> EventSink.record_event, in a thread   (sink.py)
            -> CursorStore                           (cursors.py)
"""
