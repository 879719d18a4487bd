"""Observation: what the harness reads of the monitoring stack (Prometheus, Alertmanager, the pages it receives,
the stack's own health, the harness's timer lag). A leaf: it imports nothing of the other stages."""
