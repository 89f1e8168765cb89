"""The hub's core: settings, the database engine, the clock and the one error hierarchy.
Everything else in the hub builds on it; it imports nothing of the hub."""
