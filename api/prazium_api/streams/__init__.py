"""What the API streams: a run's journal followed live by one LISTEN per process
(follower), journal rows as REST items, SSE frames and WebSocket messages
(events), the WebSocket conversation (websocket, wsmessages), kept logs read or
followed as they grow (logstream)."""
