"""The sandbox served by :class:`batchqueue.http_serving.HttpServer`."""

from __future__ import annotations

from types import TracebackType

from batchqueue.defaults import DEFAULTS
from batchqueue.http_serving import HttpServer
from batchqueue.sandbox.app import SandboxApp, SandboxConfig


class Sandbox(HttpServer):
    """Usage: ``with Sandbox(SandboxConfig()) as sb: requests.post(sb.api_url + "/surveys/…")``."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = DEFAULTS.serve_host,
        port: int = 0,
        threads: int = DEFAULTS.sandbox_threads,
    ) -> None:
        self.app = SandboxApp(config or SandboxConfig())
        # Injected connection drops raise inside waitress on purpose: quiet its logger.
        super().__init__(self.app, host=host, port=port, threads=threads, quiet=True)
        self.api_url = self.url + "/api"
        self.app.base_url = self.url

    @property
    def config(self) -> SandboxConfig:
        return self.app.config

    def start(self) -> Sandbox:
        super().start()
        self.app.start_background()
        return self

    def serve_forever(self) -> None:
        self.app.start_background()
        super().serve_forever()

    def stop(self) -> None:
        self.app.stop_background()
        super().stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
