"""The live playground: its page (``static/``: HTML, a JS module, CSS, on the shared
front-end of ``retroprop.frontend``) and its hosts: the local server (``server``, ``retroprop playground``) and the
notebook widget (``widget``, ``rp.Playground``), both driving a ``Session``.

``session`` and ``commands`` are pure Python; ``server`` needs Starlette and uvicorn,
``widget`` needs anywidget (the ``playground`` extra).
"""

from retroprop.playground.session import Session, Setup

__all__ = ["Session", "Setup"]
