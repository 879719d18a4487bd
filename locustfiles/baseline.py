"""Baseline traffic for the inference gateway: steady predictions with a few health checks.

Run by the harness as its own headless Locust process; the host is the lab's gateway.
"""

from __future__ import annotations

import random

from locust import FastHttpUser, between, task


class InferenceClient(FastHttpUser):
    """A client asking for predictions about ten times a second, like a busy front end."""

    wait_time = between(0.05, 0.15)

    @task(10)
    def predict(self) -> None:
        inputs = [round(random.uniform(-1, 1), 3) for _ in range(8)]
        with self.client.post("/v1/predict", json={"inputs": inputs}, name="/v1/predict",
                              catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")

    @task(1)
    def health(self) -> None:
        self.client.get("/health", name="/health")
