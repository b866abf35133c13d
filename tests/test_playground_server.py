"""The playground's server with Starlette's TestClient: the token, Host and Origin
checks on HTTP and the WebSocket, the upload limit and loader, commands over the
WebSocket; and `retroprop playground`'s one-line error on a taken port."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")

from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from retroprop.playground.server import COOKIE, MAX_UPLOAD, create_app

PORT, TOKEN = 8765, "s3cret-token"
HOST = f"127.0.0.1:{PORT}"
ORIGIN = f"http://{HOST}"


@pytest.fixture
def client():
    return TestClient(create_app(TOKEN, PORT), base_url=f"http://{HOST}")


def test_page_needs_the_token_and_sets_a_cookie(client):
    assert client.get("/").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    r = client.get(f"/?token={TOKEN}")
    assert r.status_code == 200 and 'id="app"' in r.text
    assert client.cookies.get(COOKIE) == TOKEN
    # the cookie alone is enough from now on (the page's scripts, a reload)
    assert client.get("/static/app.js").status_code == 200
    fresh = TestClient(create_app(TOKEN, PORT), base_url=f"http://{HOST}")
    assert fresh.get("/static/app.js").status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"Host": f"127.0.0.1:{PORT + 1}"},
        {"Origin": "http://evil.example"},
        {"Origin": f"http://127.0.0.1:{PORT + 1}"},
    ],
)
def test_foreign_host_or_origin_is_refused(client, headers):
    r = client.get(f"/?token={TOKEN}", headers=headers)
    assert r.status_code == 403
    assert (
        client.get(
            f"/?token={TOKEN}", headers={"Host": f"localhost:{PORT}"}
        ).status_code
        == 200
    )


def test_websocket_checks_and_commands(client):
    for url, headers in (
        ("/ws", {"Origin": ORIGIN}),
        (f"/ws?token={TOKEN}", {"Origin": "http://evil.example"}),
        (f"/ws?token={TOKEN}", {}),  # a WebSocket without the page's Origin
    ):
        with (
            pytest.raises(WebSocketDisconnect),
            client.websocket_connect(f"ws://{HOST}{url}", headers=headers) as ws,
        ):
            ws.receive_json()
    with client.websocket_connect(
        f"ws://{HOST}/ws?token={TOKEN}&dataset=circle&hidden=3",
        headers={"Origin": ORIGIN},
    ) as ws:
        first = ws.receive_json()
        assert first["type"] == "state" and first["setup"]["dataset"] == "circle"
        assert [len(l["bias"]) for l in first["layers"]] == [3, 2]
        ws.send_json({"cmd": "step", "n": 5})
        assert ws.receive_json()["iteration"] == 5
        ws.send_json({"cmd": "lr", "value": 0.25})
        assert ws.receive_json()["lr"] == 0.25
        ws.send_json({"cmd": "play"})
        snap = ws.receive_json()
        assert snap["playing"] is True and snap["iteration"] > 5
        ws.send_json({"cmd": "pause"})
        while ws.receive_json()["playing"]:  # snapshots of the chunk in flight
            pass


def test_upload_uses_the_csv_loader_and_its_limit(client, tmp_path):
    client.get(f"/?token={TOKEN}")
    csv = "a,b,label\n" + "".join(
        f"{i % 7},{(i * 3) % 5},{'yes' if i % 2 else 'no'}\n" for i in range(40)
    )
    r = client.post(
        "/upload?name=mine.csv", content=csv.encode(), headers={"Origin": ORIGIN}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["features"] == ["a", "b"] and body["classes"] == ["no", "yes"]
    with client.websocket_connect(
        f"ws://{HOST}/ws?token={TOKEN}&dataset=upload&upload={body['upload']}",
        headers={"Origin": ORIGIN},
    ) as ws:
        snap = ws.receive_json()
        assert (
            snap["feature_names"] == ["a", "b"] and snap["setup"]["dataset"] == "upload"
        )
    bad = client.post(
        "/upload?name=bad.csv",
        content=b"a,b,label\n1,x,yes\n",
        headers={"Origin": ORIGIN},
    )
    assert bad.status_code == 400 and "line" in bad.json()["error"]
    big = client.post(
        "/upload", content=b"0" * (MAX_UPLOAD + 1), headers={"Origin": ORIGIN}
    )
    assert big.status_code == 413 and "KiB" in big.json()["error"]
    assert (
        client.post(
            "/upload", content=csv.encode(), headers={"Origin": "http://evil.example"}
        ).status_code
        == 403
    )


def test_taken_port_is_a_one_line_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "retroprop",
                "playground",
                "--port",
                str(port),
                "--no-browser",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and f"port {port}" in out.stderr
    assert "Traceback" not in out.stderr


def test_upload_chooses_columns_as_train_does(client, tmp_path):
    # An id column and a column to leave out: --features / --drop, by name or number.
    from retroprop.datasets import load_csv

    client.get(f"/?token={TOKEN}")
    csv = "id,a,b,noise,label\n" + "".join(
        f"{i + 1},{i % 7},{(i * 3) % 5},{i % 3},{'yes' if i % 2 else 'no'}\n"
        for i in range(40)
    )
    (tmp_path / "mine.csv").write_text(csv)

    def up(query: str):
        return client.post(
            f"/upload?name=mine.csv&{query}",
            content=csv.encode(),
            headers={"Origin": ORIGIN},
        )

    picked = up("features=a,3")
    assert picked.status_code == 200, picked.text
    assert picked.json()["features"] == ["a", "b"]
    dropped = up("drop=id,noise")
    assert dropped.status_code == 200, dropped.text
    # the same columns as train's loader with train's options
    ds = load_csv(tmp_path / "mine.csv", drop=["id", "noise"])
    assert dropped.json()["features"] == list(ds.feature_names) == ["a", "b"]
    bad = up("features=a,nope")
    assert bad.status_code == 400 and "nope" in bad.json()["error"]
    empty = up("drop=a,,b")
    assert empty.status_code == 400 and "comma" in empty.json()["error"]


def test_the_page_is_served_in_the_language_in_use(client):
    import json as _json
    import re

    from retroprop import i18n

    try:
        i18n.set_language("pt")
        r = client.get(f"/?token={TOKEN}")
    finally:
        i18n.set_language(None)
    assert '<html lang="pt">' in r.text
    assert "<title>playground do retroprop</title>" in r.text
    data = re.search(
        r'<script id="rp-labels" type="application/json">(.*?)</script>', r.text
    )
    labels = _json.loads(data.group(1))
    assert labels["lang"] == "pt" and labels["labels"]["play"] == "Treinar"
    english = client.get(f"/?token={TOKEN}").text  # RETROPROP_LANG=en in the suite
    assert '<html lang="en">' in english and '"play": "Play"' in english
