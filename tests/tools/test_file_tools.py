"""File tools: every path stays inside the workspace, whatever the caller tries."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.runtime.tools import BUILTIN, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool


async def call(name: str, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    tool = BUILTIN.get(name)
    assert tool is not None, name
    return await run_tool(tool, args, ctx)


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return ToolContext(workspace=workspace)


def root(ctx: ToolContext) -> Path:
    assert ctx.workspace is not None
    return ctx.workspace


ESCAPES = ["../outside.txt", "a/../../outside.txt", "/etc/passwd", "C:/Windows/win.ini", "a\x00b"]
ALL_FILE_TOOLS = [
    ("file_read", {}),
    ("file_write", {"content": "x"}),
    ("file_append", {"content": "x"}),
    ("file_list", {}),
    ("file_delete", {}),
    ("file_search", {"query": "x"}),
]


@pytest.mark.parametrize("path", ESCAPES)
@pytest.mark.parametrize(("name", "extra"), ALL_FILE_TOOLS)
async def test_paths_outside_the_workspace_are_refused(
    ctx: ToolContext, tmp_path: Path, name: str, extra: dict[str, Any], path: str
) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    with pytest.raises(ToolError):
        await call(name, {"path": path, **extra}, ctx)
    assert (tmp_path / "outside.txt").read_text() == "secret"


async def test_symlink_to_outside_is_refused_for_every_tool(ctx: ToolContext) -> None:
    os.symlink("/etc", root(ctx) / "etc")
    for name, extra in ALL_FILE_TOOLS:
        if name == "file_delete":
            continue
        with pytest.raises(ToolError, match="outside the workspace"):
            await call(name, {"path": "etc/passwd", **extra}, ctx)
    with pytest.raises(ToolError, match="outside the workspace"):
        await call("file_list", {"path": "etc"}, ctx)


async def test_dangling_symlink_out_cannot_be_written_through(
    ctx: ToolContext, tmp_path: Path
) -> None:
    os.symlink(tmp_path / "not-yet", root(ctx) / "sneaky")
    with pytest.raises(ToolError, match="outside the workspace"):
        await call("file_write", {"path": "sneaky", "content": "x"}, ctx)
    with pytest.raises(ToolError, match="outside the workspace"):
        await call("file_write", {"path": "sneaky/deeper/x.txt", "content": "x"}, ctx)
    assert not (tmp_path / "not-yet").exists()


async def test_no_workspace_means_file_tools_are_unavailable() -> None:
    with pytest.raises(ToolError, match="not available here"):
        await call("file_read", {"path": "a.txt"}, ToolContext())


async def test_write_creates_parents_and_read_pages_through_the_text(ctx: ToolContext) -> None:
    written = await call(
        "file_write", {"path": "notes/day1/todo.md", "content": "héllo world"}, ctx
    )
    assert written == {"path": "notes/day1/todo.md", "bytes_written": 12, "created": True}
    assert (root(ctx) / "notes/day1/todo.md").read_text(encoding="utf-8") == "héllo world"

    first = await call("file_read", {"path": "notes/day1/todo.md", "limit": 5}, ctx)
    assert first["content"] == "héllo"
    assert first["truncated"] is True
    assert first["total_chars"] == 11
    rest = await call(
        "file_read", {"path": "./notes/day1/todo.md", "offset": first["next_offset"]}, ctx
    )
    assert rest["content"] == " world"
    assert rest["truncated"] is False
    assert rest["next_offset"] is None

    again = await call("file_write", {"path": "notes/day1/todo.md", "content": "new"}, ctx)
    assert again["created"] is False
    assert (root(ctx) / "notes/day1/todo.md").read_text() == "new"


async def test_write_without_overwrite_keeps_an_existing_file(ctx: ToolContext) -> None:
    (root(ctx) / "keep.txt").write_text("original")
    with pytest.raises(ToolError, match="already exists"):
        await call("file_write", {"path": "keep.txt", "content": "x", "overwrite": False}, ctx)
    assert (root(ctx) / "keep.txt").read_text() == "original"


async def test_write_refuses_content_over_the_size_limit(ctx: ToolContext) -> None:
    with pytest.raises(ToolInputError):
        await call("file_write", {"path": "big.txt", "content": "x" * (5 * 1024 * 1024 + 1)}, ctx)
    with pytest.raises(ToolInputError, match="limit is 5 MB"):
        await call("file_write", {"path": "big.txt", "content": "é" * (3 * 1024 * 1024)}, ctx)
    assert not (root(ctx) / "big.txt").exists()


async def test_read_refuses_binary_files_and_folders(ctx: ToolContext) -> None:
    (root(ctx) / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (root(ctx) / "folder").mkdir()
    with pytest.raises(ToolError, match="binary"):
        await call("file_read", {"path": "image.png"}, ctx)
    with pytest.raises(ToolError, match="not a regular file"):
        await call("file_read", {"path": "folder"}, ctx)
    with pytest.raises(ToolError, match="does not exist"):
        await call("file_read", {"path": "nope.txt"}, ctx)


async def test_symlink_inside_the_workspace_is_followed(ctx: ToolContext) -> None:
    (root(ctx) / "real.txt").write_text("inside")
    os.symlink(root(ctx) / "real.txt", root(ctx) / "alias.txt")
    result = await call("file_read", {"path": "alias.txt"}, ctx)
    assert result["content"] == "inside"
    assert result["path"] == "real.txt"


async def test_append_creates_then_extends(ctx: ToolContext) -> None:
    first = await call("file_append", {"path": "log/app.log", "content": "one\n"}, ctx)
    assert first == {"path": "log/app.log", "bytes_appended": 4, "size_bytes": 4}
    second = await call("file_append", {"path": "log/app.log", "content": "two\n"}, ctx)
    assert second["size_bytes"] == 8
    assert (root(ctx) / "log/app.log").read_text() == "one\ntwo\n"


async def test_append_refuses_empty_text_and_the_root(ctx: ToolContext) -> None:
    with pytest.raises(ToolInputError):
        await call("file_append", {"path": "a.txt", "content": ""}, ctx)
    with pytest.raises(ToolInputError, match="not the workspace root"):
        await call("file_append", {"path": ".", "content": "x"}, ctx)


async def test_list_is_sorted_filtered_and_recursive(ctx: ToolContext) -> None:
    (root(ctx) / "b.txt").write_text("bb")
    (root(ctx) / "a.md").write_text("a")
    (root(ctx) / "sub").mkdir()
    (root(ctx) / "sub" / "c.txt").write_text("ccc")
    os.symlink("/etc", root(ctx) / "zlink")

    flat = await call("file_list", {}, ctx)
    assert [(e["path"], e["type"]) for e in flat["entries"]] == [
        ("a.md", "file"),
        ("b.txt", "file"),
        ("sub", "dir"),
        ("zlink", "symlink"),
    ]
    assert flat["entries"][1]["size_bytes"] == 2
    assert flat["entries"][2]["size_bytes"] is None
    assert flat["entries"][0]["modified"].endswith("Z")

    deep = await call("file_list", {"recursive": True, "pattern": "*.txt"}, ctx)
    assert [e["path"] for e in deep["entries"]] == ["b.txt", "sub/c.txt"]
    assert deep["truncated"] is False

    capped = await call("file_list", {"recursive": True, "max_entries": 2}, ctx)
    assert len(capped["entries"]) == 2
    assert capped["truncated"] is True

    inside = await call("file_list", {"path": "sub"}, ctx)
    assert [e["path"] for e in inside["entries"]] == ["sub/c.txt"]


async def test_list_rejects_missing_folders_and_bad_limits(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        await call("file_list", {"path": "nope"}, ctx)
    with pytest.raises(ToolInputError):
        await call("file_list", {"max_entries": 0}, ctx)


async def test_delete_files_links_and_folders(ctx: ToolContext, tmp_path: Path) -> None:
    (root(ctx) / "f.txt").write_text("x")
    (root(ctx) / "empty").mkdir()
    (root(ctx) / "full").mkdir()
    (root(ctx) / "full" / "x.txt").write_text("x")
    (tmp_path / "target.txt").write_text("kept")
    os.symlink(tmp_path / "target.txt", root(ctx) / "link")

    assert (await call("file_delete", {"path": "f.txt"}, ctx))["deleted"] == "file"
    assert (await call("file_delete", {"path": "empty"}, ctx))["deleted"] == "dir"
    assert (await call("file_delete", {"path": "link"}, ctx))["deleted"] == "symlink"
    assert (tmp_path / "target.txt").read_text() == "kept"
    with pytest.raises(ToolError, match="recursive=true"):
        await call("file_delete", {"path": "full"}, ctx)
    result = await call("file_delete", {"path": "full", "recursive": True}, ctx)
    assert result == {"path": "full", "deleted": "dir"}
    assert sorted(os.listdir(root(ctx))) == []


async def test_delete_refuses_the_root_and_missing_paths(ctx: ToolContext) -> None:
    for path in (".", "./", "a/.."):
        with pytest.raises(ToolError):
            await call("file_delete", {"path": path, "recursive": True}, ctx)
    assert root(ctx).is_dir()
    with pytest.raises(ToolError, match="does not exist"):
        await call("file_delete", {"path": "ghost.txt"}, ctx)


async def test_search_finds_substrings_and_regexes(ctx: ToolContext) -> None:
    (root(ctx) / "a.py").write_text("import os\nTODO: fix this\nprint('todo')\n")
    (root(ctx) / "docs").mkdir()
    (root(ctx) / "docs" / "b.md").write_text("nothing\n# todo list\n")
    (root(ctx) / "blob.bin").write_bytes(b"TODO\x00\x01\x02")

    found = await call("file_search", {"query": "todo"}, ctx)
    assert [(m["path"], m["line"], m["text"]) for m in found["matches"]] == [
        ("a.py", 2, "TODO: fix this"),
        ("a.py", 3, "print('todo')"),
        ("docs/b.md", 2, "# todo list"),
    ]
    assert found["files_scanned"] == 2

    exact = await call("file_search", {"query": "TODO", "case_sensitive": True}, ctx)
    assert [m["line"] for m in exact["matches"]] == [2]

    regex = await call("file_search", {"query": r"^import\s+\w+$", "regex": True}, ctx)
    assert [m["text"] for m in regex["matches"]] == ["import os"]

    only_md = await call("file_search", {"query": "todo", "pattern": "*.md"}, ctx)
    assert [m["path"] for m in only_md["matches"]] == ["docs/b.md"]

    capped = await call("file_search", {"query": "todo", "max_results": 1}, ctx)
    assert len(capped["matches"]) == 1
    assert capped["truncated"] is True


async def test_search_rejects_a_bad_regex(ctx: ToolContext) -> None:
    with pytest.raises(ToolInputError, match="Invalid regular expression"):
        await call("file_search", {"query": "([a-z", "regex": True}, ctx)
    with pytest.raises(ToolInputError):
        await call("file_search", {"query": ""}, ctx)
