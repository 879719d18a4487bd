"""The load stage: Locust in its own process, the load shape the harness steers, and the traffic surge."""
