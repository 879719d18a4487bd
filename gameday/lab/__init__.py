"""The embedded lab: an instrumented inference gateway, its model backend, and the monitoring stack."""
