"""The Locust peer: FastHttpUser GETting / with no wait between requests (runs in the peers'
virtualenv, where locust is installed; never imported by callbench)."""

from locust import FastHttpUser, task  # type: ignore[import-not-found]


class Get(FastHttpUser):  # type: ignore[misc]
    @task  # type: ignore[untyped-decorator]
    def get(self) -> None:
        self.client.get("/")
