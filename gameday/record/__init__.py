"""The drill's record: its events as they happen and the journal they are written into, which reports read."""
