"""Workspace uploads: stored under the owner's workspace with a safe name, typed by their bytes,
capped in size, and previewed (UTF-8 or GBK text, CSV rows, JSON records; binary as metadata)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tiangong.config import get_settings

API = "/api/v1/uploads"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    data: bytes,
    content_type: str = "text/plain",
) -> httpx.Response:
    return await client.post(API, files={"file": (name, data, content_type)}, headers=headers)


async def uploaded(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, data: bytes
) -> dict[str, Any]:
    response = await upload(client, headers, name, data)
    assert response.status_code == 201, response.text
    return dict(response.json())


def stored_files(user_dir: str = "") -> list[Path]:
    root = get_settings().data_dir / "workspaces"
    return [p for p in root.rglob("*") if p.is_file() and user_dir in str(p)]


async def preview(
    client: httpx.AsyncClient, headers: dict[str, str], upload_id: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(f"{API}/{upload_id}/preview", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_upload_stores_the_file_in_the_workspace_and_previews_lines(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    text = "".join(f"第{i}行 line {i}\n" for i in range(1, 101)).encode()
    body = await uploaded(client, user_headers, "notes.txt", text)
    assert body["name"] == "notes.txt" and body["size"] == len(text)
    assert body["content_type"] == "text/plain" and len(body["sha256"]) == 64
    files = [p for p in stored_files() if p.name == "notes.txt"]
    assert len(files) == 1 and files[0].read_bytes() == text
    assert files[0].parent.name == body["id"] and files[0].parent.parent.name == "uploads"

    shown = await preview(client, user_headers, body["id"], lines=3)
    assert shown["kind"] == "text" and shown["encoding"] == "utf-8"
    assert shown["lines"] == ["第1行 line 1", "第2行 line 2", "第3行 line 3"]
    assert shown["truncated"] is True
    whole = await preview(client, user_headers, body["id"], lines=500)
    assert len(whole["lines"]) == 100 and whole["truncated"] is False


async def test_names_are_sanitised_and_cannot_escape_the_workspace(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    root = (get_settings().data_dir / "workspaces").resolve()
    for raw, expected in (
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("..", "upload"),
        (".hidden", "hidden"),
        ("报告 2024.md", "报告 2024.md"),
        ("a|b;rm -rf*.txt", "a_b_rm -rf_.txt"),
        ("x" * 300 + ".csv", "x" * 196 + ".csv"),
    ):
        body = await uploaded(client, user_headers, raw, b"hello\n")
        assert body["name"] == expected, raw
    for path in stored_files():
        assert path.resolve().is_relative_to(root)
    assert not (get_settings().data_dir / "etc").exists()


async def test_type_is_sniffed_from_the_bytes(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    png = await uploaded(client, user_headers, "cat.txt", PNG)
    assert png["content_type"] == "image/png"
    shown = await preview(client, user_headers, png["id"])
    assert shown["kind"] == "binary" and shown["encoding"] is None
    assert shown["lines"] is None and shown["rows"] is None and shown["size"] == len(PNG)
    pdf = await uploaded(client, user_headers, "doc.bin", b"%PDF-1.7\n...")
    assert pdf["content_type"] == "application/pdf"
    blob = await uploaded(client, user_headers, "data.csv", bytes(range(256)) * 4)
    assert blob["content_type"] == "application/octet-stream"
    log = await uploaded(client, user_headers, "big.log", b"x" * 150_000 + b"\n")
    assert log["size"] == 150_001 and log["content_type"] == "text/plain"
    md = await uploaded(client, user_headers, "README.md", "# 标题\n\n正文\n".encode())
    assert md["content_type"] == "text/markdown"
    assert (await preview(client, user_headers, md["id"]))["lines"] == ["# 标题", "", "正文"]


async def test_gbk_csv_and_json_previews_are_parsed(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    rows = "姓名,城市\n" + "".join(f"张{i},北京\n" for i in range(10))
    csv_body = await uploaded(client, user_headers, "people.csv", rows.encode("gbk"))
    assert csv_body["content_type"] == "text/csv"
    shown = await preview(client, user_headers, csv_body["id"], lines=2)
    assert shown["encoding"] == "gbk" and shown["kind"] == "csv"
    assert shown["columns"] == ["姓名", "城市"]
    assert shown["rows"] == [["张0", "北京"], ["张1", "北京"]] and shown["truncated"] is True

    records = [{"id": i, "name": f"n{i}"} for i in range(5)]
    json_body = await uploaded(client, user_headers, "r.json", json.dumps(records).encode())
    shown = await preview(client, user_headers, json_body["id"], lines=2)
    assert shown["kind"] == "json" and shown["data"] == records[:2] and shown["truncated"]
    assert shown["columns"] == ["id", "name"] and shown["rows"] == [[0, "n0"], [1, "n1"]]
    obj = await uploaded(client, user_headers, "o.json", b'{"a": {"b": 1}}')
    assert (await preview(client, user_headers, obj["id"]))["data"] == {"a": {"b": 1}}
    broken = await uploaded(client, user_headers, "bad.json", b'{"a": \n1')
    assert (await preview(client, user_headers, broken["id"]))["lines"] == ['{"a": ', "1"]


async def test_size_limit_and_bad_requests(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "upload_max_bytes", 1000)
    assert (await upload(client, user_headers, "ok.txt", b"a" * 1000)).status_code == 201
    before = set(stored_files())
    big = await upload(client, user_headers, "big.txt", b"a" * 1001)
    assert big.status_code == 413 and big.json()["error"] == "FILE_TOO_LARGE"
    huge = await upload(client, user_headers, "huge.txt", b"a" * 200_000)
    assert huge.status_code == 413 and huge.json()["error"] == "FILE_TOO_LARGE"
    assert set(stored_files()) == before

    as_json = await client.post(API, json={"file": "x"}, headers=user_headers)
    assert as_json.status_code == 415 and as_json.json()["error"] == "UNSUPPORTED_MEDIA_TYPE"
    no_file = await client.post(API, files={"other": ("a.txt", b"x")}, headers=user_headers)
    assert no_file.status_code == 422 and no_file.json()["error"] == "VALIDATION_ERROR"
    two = await client.post(
        API, files=[("file", ("a.txt", b"x")), ("file", ("b.txt", b"y"))], headers=user_headers
    )
    assert two.status_code in (400, 422), two.text
    no_token = await client.post(API, files={"file": ("a.txt", b"x")})
    assert no_token.status_code == 401


async def test_only_the_uploader_sees_a_preview(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    body = await uploaded(client, user_headers, "secret.txt", b"mine\n")
    for headers in (other_headers,):
        response = await client.get(f"{API}/{body['id']}/preview", headers=headers)
        assert response.status_code == 404 and response.json()["error"] == "UPLOAD_NOT_FOUND"
    assert (await client.get(f"{API}/{body['id']}/preview")).status_code == 401
    unknown = await client.get(f"{API}/no-such-id/preview", headers=user_headers)
    assert unknown.status_code == 404
    bad = await client.get(f"{API}/{body['id']}/preview?lines=0", headers=user_headers)
    assert bad.status_code == 422
