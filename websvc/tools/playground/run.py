"""Running the playground: the demo API and the page, two servers on two origins."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer

from websvc.app import WebsvcApp
from websvc.demo import DEMO_TOKEN, DEMO_USER
from websvc.devserver import CannotListen, listen, stop_on_sigterm
from websvc.tools.playground.app import PLAYGROUND_CONFIG, PlaygroundApp

DEFAULT_API_PORT = 8080
DEFAULT_PAGE_PORT = 8081


@dataclass
class Demo:
    """The two running servers of :func:`start_demo`."""

    api: BaseWSGIServer
    page: BaseWSGIServer
    api_url: str
    page_url: str
    threads: list[threading.Thread]

    def shutdown(self) -> None:
        for server in (self.page, self.api):
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)


def start_demo(
    host: str = "127.0.0.1", api_port: int = DEFAULT_API_PORT, page_port: int = DEFAULT_PAGE_PORT
) -> Demo:
    """Start the demo API and the playground page in threads (port 0: any free port).

    The API is reached as ``http://<host>:<api_port>`` and the page as
    ``http://localhost:<page_port>/``: two origins, and the page's is the one
    the demo's ``localhost`` rule allows. Raises
    :class:`websvc.devserver.CannotListen` (an OSError) when a port is taken,
    before anything serves.
    """
    api_app = WebsvcApp(PLAYGROUND_CONFIG)
    api = listen(host, api_port, api_app)
    try:
        api_url = f"http://{_url_host(host)}:{api.server_port}"
        page = listen(host, page_port, PlaygroundApp(api_app, api_url))
    except BaseException:
        api.server_close()
        raise
    page_url = f"http://{_page_host(host)}:{page.server_port}/"
    threads = [
        threading.Thread(target=server.serve_forever, name=f"websvc-demo-{name}", daemon=True)
        for name, server in (("api", api), ("page", page))
    ]
    for thread in threads:
        thread.start()
    return Demo(api, page, api_url, page_url, threads)


def run_demo(
    host: str = "127.0.0.1", api_port: int = DEFAULT_API_PORT, page_port: int = DEFAULT_PAGE_PORT
) -> int:
    """``websvc demo``: serve the demo API and the playground until Ctrl-C or SIGTERM."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        demo = start_demo(host, api_port, page_port)
    except CannotListen as exc:  # "cannot listen on HOST:PORT: why", one line
        print(f"websvc demo: {exc}", flush=True)
        return 2
    stop_on_sigterm()
    try:
        print(
            f"websvc demo: API at {demo.api_url}/ws/rest/echo "
            f"(the demo config plus PATCH; user {DEMO_USER}, token {DEMO_TOKEN})",
            flush=True,
        )
        print(f"websvc demo: playground at {demo.page_url}  <- open this page", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("websvc demo: stopping", flush=True)
    finally:
        demo.shutdown()
    return 0


def _url_host(host: str) -> str:
    """How a browser on this machine reaches a server bound to *host*."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _page_host(host: str) -> str:
    """The page's host name: ``localhost`` (the demo rule's domain) when it reaches *host*."""
    loopback = host in ("", "0.0.0.0", "::", "::1", "localhost") or host.startswith("127.")
    return "localhost" if loopback else _url_host(host)
