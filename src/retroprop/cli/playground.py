"""``retroprop playground``: the live playground, a local web app on 127.0.0.1.

It trains with retroprop's own engine in the server and draws in the browser; the
URL it prints carries a random token, and the server refuses any request without it,
from another Host or from another Origin.
"""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="TCP port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="Print the URL only; do not open a browser.",
)
def playground(port: int, no_browser: bool) -> None:
    """Train the lecture's network live in the browser: change eta, the batch size,
    the layers or the data while it trains, click any weight for its chain rule.

    Serves on 127.0.0.1 only, behind a random token in the printed URL (as Jupyter
    does). Ctrl-C stops it.
    """
    import secrets
    import socket

    try:
        import uvicorn

        from retroprop.playground.server import create_app
    except ImportError as e:
        raise click.ClickException(
            f"the playground needs its extra ({e.name} is missing): "
            f"pip install 'retroprop[playground]'"
        ) from None

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise click.UsageError(
            f"port {port} on 127.0.0.1 is taken; choose another with --port "
            f"(--port 0 picks a free one)"
        ) from None
    # listening before the URL is printed: a browser that comes before uvicorn has
    # started waits in the backlog instead of being refused
    sock.listen(128)
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{port}/?token={token}"
    config = uvicorn.Config(
        create_app(token, port), log_level="warning", ws="auto", lifespan="off"
    )
    server = uvicorn.Server(config)
    click.echo(f"retroprop playground: {url}", err=False)
    click.echo("Press Ctrl-C to stop.", err=True)
    if not no_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    click.echo("retroprop playground: stopped", err=True)
