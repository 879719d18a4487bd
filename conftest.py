"""Project-level pytest configuration. The gameday plugin itself is registered through its entry point."""
