"""Builtin tools: files. Every path is relative to `ctx.workspace` and nothing outside it is
reachable: not by `..`, not by absolute paths, not through symlinks."""

from __future__ import annotations

import asyncio
import errno
import fnmatch
import os
import re
import shutil
import stat
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from tiangong.runtime.tools.base import Tool, ToolError, ToolInputError
from tiangong.runtime.tools.context import ToolContext
from tiangong.runtime.tools.registry import builtin_tool

MAX_WRITE_BYTES = 5 * 1024 * 1024
MAX_READ_BYTES = 20 * 1024 * 1024
MAX_SEARCH_FILE_BYTES = 5 * 1024 * 1024
MAX_SEARCH_FILES = 10_000
MAX_LINE_CHARS = 500
# Bytes sniffed for NUL to tell binary files from text.
_SNIFF_BYTES = 8192
_DRIVE = re.compile(r"^[A-Za-z]:")

PathText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        description="Path relative to the workspace root, e.g. notes/todo.md. '.' is the root.",
    ),
]


def workspace_path(ctx: ToolContext, path: str, *, follow_final: bool = True) -> tuple[Path, Path]:
    """(workspace root, target) for a user-given relative path, both resolved.

    With follow_final=False a symlink named by the path is returned as the link itself (for
    deleting it), not as what it points to."""
    if ctx.workspace is None:
        raise ToolError("File access is not available here: there is no workspace.")
    if "\x00" in path:
        raise ToolInputError("The path contains a NUL byte.")
    text = path.strip().replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        raise ToolInputError(
            f"'{path}' is absolute; give a path relative to the workspace instead."
        )
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ToolInputError(f"'{path}' uses '..'; paths must stay inside the workspace.")
    try:
        root = ctx.workspace.resolve()
        candidate = root.joinpath(*parts)
        if follow_final or not parts:
            target = candidate.resolve()
        else:
            target = candidate.parent.resolve() / candidate.name
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise ToolError(f"Cannot resolve '{path}': {exc}") from exc
    if not target.is_relative_to(root):
        raise ToolError(f"'{path}' leads outside the workspace (through a symlink); refused.")
    return root, target


def relative_name(root: Path, target: Path) -> str:
    return target.relative_to(root).as_posix()


def _read_text(target: Path, shown: str, max_bytes: int = MAX_READ_BYTES) -> str:
    """The UTF-8 text of a regular file; binary and oversized files are refused."""
    if not target.exists():
        raise ToolError(f"'{shown}' does not exist.")
    if not target.is_file():
        raise ToolError(f"'{shown}' is not a regular file.")
    size = target.stat().st_size
    if size > max_bytes:
        raise ToolError(f"'{shown}' is {size} bytes; the limit is {max_bytes} bytes.")
    data = target.read_bytes()
    text = _decode(data)
    if text is None:
        raise ToolError(f"'{shown}' is a binary file (or not UTF-8 text); it cannot be read.")
    return text


def _decode(data: bytes) -> str | None:
    if b"\x00" in data[:_SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _open_for_write(target: Path, shown: str, flags: int) -> int:
    """Opens without following a symlink swapped in after the path was checked."""
    try:
        return os.open(target, flags | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except FileExistsError as exc:
        raise ToolError(f"'{shown}' already exists and overwrite is false.") from exc
    except IsADirectoryError as exc:
        raise ToolError(f"'{shown}' is a folder.") from exc
    except OSError as exc:
        raise ToolError(f"Cannot open '{shown}' for writing: {exc.strerror}") from exc


def make_parents(root: Path, target: Path, shown: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolError(f"Cannot create the folders for '{shown}': {exc.strerror}") from exc
    # mkdir follows symlinks in the parent chain; make sure nothing was swapped in meanwhile.
    if not target.parent.resolve().is_relative_to(root):
        raise ToolError(f"'{shown}' leads outside the workspace; refused.")


def _modified(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, tz=UTC)


# --- file_read ------------------------------------------------------------------------------


class FileReadInput(BaseModel):
    path: PathText
    offset: int = Field(default=0, ge=0, description="First character to return (0-based).")
    limit: int = Field(default=50_000, ge=1, le=200_000, description="Most characters to return.")


class FileReadOutput(BaseModel):
    path: str
    content: str
    offset: int
    total_chars: int = Field(description="Length of the whole file in characters.")
    truncated: bool = Field(description="True when text remains after this part.")
    next_offset: int | None = Field(description="Offset to read the next part, if any.")


@builtin_tool
class FileRead(Tool):
    name = "file_read"
    description = (
        "Read a UTF-8 text file from the workspace. Returns up to `limit` characters starting "
        "at `offset`; when `truncated` is true, call again with `next_offset` to read on. "
        "Binary files are refused."
    )
    category = "files"
    Input = FileReadInput
    Output = FileReadOutput

    async def run(self, args: FileReadInput, ctx: ToolContext) -> FileReadOutput:
        root, target = workspace_path(ctx, args.path)
        shown = relative_name(root, target)
        text = await asyncio.to_thread(_read_text, target, shown)
        end = args.offset + args.limit
        more = end < len(text)
        return FileReadOutput(
            path=shown,
            content=text[args.offset : end],
            offset=args.offset,
            total_chars=len(text),
            truncated=more,
            next_offset=end if more else None,
        )


# --- file_write / file_append ---------------------------------------------------------------


class FileWriteInput(BaseModel):
    path: PathText
    content: str = Field(max_length=MAX_WRITE_BYTES, description="The full text to write.")
    overwrite: bool = Field(
        default=True, description="Replace the file if it exists; if false, fail instead."
    )


class FileWriteOutput(BaseModel):
    path: str
    bytes_written: int
    created: bool = Field(description="True if the file did not exist before.")


def _write(root: Path, target: Path, shown: str, data: bytes, overwrite: bool) -> bool:
    make_parents(root, target, shown)
    existed = target.exists()
    flags = os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = _open_for_write(target, shown, flags)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return not existed


@builtin_tool
class FileWrite(Tool):
    name = "file_write"
    description = (
        "Create or overwrite a UTF-8 text file in the workspace with `content` (at most 5 MB). "
        "Missing parent folders are created. Set overwrite=false to fail if the file exists."
    )
    category = "files"
    Input = FileWriteInput
    Output = FileWriteOutput

    async def run(self, args: FileWriteInput, ctx: ToolContext) -> FileWriteOutput:
        root, target = workspace_path(ctx, args.path)
        if target == root:
            raise ToolInputError("Give a file name, not the workspace root.")
        data = args.content.encode("utf-8")
        if len(data) > MAX_WRITE_BYTES:
            raise ToolInputError(f"The content is {len(data)} bytes; the limit is 5 MB.")
        shown = relative_name(root, target)
        created = await asyncio.to_thread(_write, root, target, shown, data, args.overwrite)
        return FileWriteOutput(path=shown, bytes_written=len(data), created=created)


class FileAppendInput(BaseModel):
    path: PathText
    content: str = Field(
        min_length=1, max_length=MAX_WRITE_BYTES, description="Text added at the end."
    )


class FileAppendOutput(BaseModel):
    path: str
    bytes_appended: int
    size_bytes: int = Field(description="Size of the file after appending.")


def _append(root: Path, target: Path, shown: str, data: bytes) -> int:
    make_parents(root, target, shown)
    before = target.stat().st_size if target.is_file() else 0
    if before + len(data) > MAX_WRITE_BYTES:
        raise ToolError(f"Appending would make '{shown}' larger than the 5 MB limit.")
    fd = _open_for_write(target, shown, os.O_CREAT | os.O_APPEND)
    with os.fdopen(fd, "ab") as handle:
        handle.write(data)
    return before + len(data)


@builtin_tool
class FileAppend(Tool):
    name = "file_append"
    description = (
        "Append text to the end of a file in the workspace, creating the file (and its "
        "folders) if missing. Add a leading newline yourself if the text should start on a new "
        "line. The file may grow to at most 5 MB."
    )
    category = "files"
    Input = FileAppendInput
    Output = FileAppendOutput

    async def run(self, args: FileAppendInput, ctx: ToolContext) -> FileAppendOutput:
        root, target = workspace_path(ctx, args.path)
        if target == root:
            raise ToolInputError("Give a file name, not the workspace root.")
        data = args.content.encode("utf-8")
        shown = relative_name(root, target)
        size = await asyncio.to_thread(_append, root, target, shown, data)
        return FileAppendOutput(path=shown, bytes_appended=len(data), size_bytes=size)


# --- file_list ------------------------------------------------------------------------------


class FileListInput(BaseModel):
    path: PathText = "."
    recursive: bool = Field(default=False, description="Also list the contents of subfolders.")
    pattern: str | None = Field(
        default=None,
        max_length=200,
        description="Glob filter such as '*.csv'. Matched against the name, or against the "
        "relative path when it contains '/'.",
    )
    max_entries: int = Field(default=500, ge=1, le=5000, description="Most entries returned.")


class FileEntry(BaseModel):
    path: str = Field(description="Path relative to the workspace root.")
    type: Literal["file", "dir", "symlink", "other"]
    size_bytes: int | None = Field(description="Size for files; null otherwise.")
    modified: datetime = Field(description="Last modification time (UTC).")


class FileListOutput(BaseModel):
    path: str
    entries: list[FileEntry]
    truncated: bool = Field(description="True when more than max_entries entries matched.")


def _walk(top: Path, recursive: bool) -> Iterator[Path]:
    """Entries under `top` in name order, never descending into symlinked folders."""
    try:
        children = sorted(top.iterdir(), key=lambda p: p.name)
    except OSError:
        return
    for child in children:
        yield child
        if recursive and child.is_dir() and not child.is_symlink():
            yield from _walk(child, recursive)


def _entry(root: Path, item: Path) -> FileEntry | None:
    try:
        st = item.lstat()
    except OSError:
        return None
    kind: Literal["file", "dir", "symlink", "other"]
    if stat.S_ISLNK(st.st_mode):
        kind = "symlink"
    elif stat.S_ISDIR(st.st_mode):
        kind = "dir"
    elif stat.S_ISREG(st.st_mode):
        kind = "file"
    else:
        kind = "other"
    return FileEntry(
        path=relative_name(root, item),
        type=kind,
        size_bytes=st.st_size if kind == "file" else None,
        modified=_modified(st),
    )


def _matches(pattern: str | None, relative: str) -> bool:
    if pattern is None:
        return True
    subject = relative if "/" in pattern else relative.rsplit("/", 1)[-1]
    return fnmatch.fnmatchcase(subject, pattern)


def _list(
    root: Path, top: Path, recursive: bool, pattern: str | None, limit: int
) -> tuple[list[FileEntry], bool]:
    entries: list[FileEntry] = []
    for item in _walk(top, recursive):
        entry = _entry(root, item)
        if entry is None or not _matches(pattern, entry.path):
            continue
        if len(entries) == limit:
            return entries, True
        entries.append(entry)
    return entries, False


@builtin_tool
class FileList(Tool):
    name = "file_list"
    description = (
        "List files and folders in a workspace folder (the root by default) with type, size "
        "and modification time, sorted by name. Set recursive=true to include subfolders and "
        "`pattern` (e.g. '*.md') to filter. Symlinked folders are listed but not entered."
    )
    category = "files"
    Input = FileListInput
    Output = FileListOutput

    async def run(self, args: FileListInput, ctx: ToolContext) -> FileListOutput:
        root, top = workspace_path(ctx, args.path)
        shown = relative_name(root, top)
        if not top.exists():
            raise ToolError(f"'{shown}' does not exist.")
        if not top.is_dir():
            raise ToolError(f"'{shown}' is not a folder.")
        entries, truncated = await asyncio.to_thread(
            _list, root, top, args.recursive, args.pattern, args.max_entries
        )
        return FileListOutput(path=shown, entries=entries, truncated=truncated)


# --- file_delete ----------------------------------------------------------------------------


class FileDeleteInput(BaseModel):
    path: PathText
    recursive: bool = Field(
        default=False, description="Required to delete a folder that is not empty."
    )


class FileDeleteOutput(BaseModel):
    path: str
    deleted: Literal["file", "dir", "symlink"]


def _delete(target: Path, shown: str, recursive: bool) -> Literal["file", "dir", "symlink"]:
    try:
        st = target.lstat()
    except FileNotFoundError as exc:
        raise ToolError(f"'{shown}' does not exist.") from exc
    try:
        if stat.S_ISLNK(st.st_mode):
            # Only the link goes; whatever it points to is untouched.
            target.unlink()
            return "symlink"
        if not stat.S_ISDIR(st.st_mode):
            target.unlink()
            return "file"
        if recursive:
            shutil.rmtree(target)
        else:
            target.rmdir()
        return "dir"
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise ToolError(
                f"'{shown}' is a folder that is not empty; set recursive=true to delete it."
            ) from exc
        raise ToolError(f"Cannot delete '{shown}': {exc.strerror}") from exc


@builtin_tool
class FileDelete(Tool):
    name = "file_delete"
    description = (
        "Delete a file, a symlink (only the link) or an empty folder in the workspace. Deleting "
        "a folder with contents needs recursive=true. The workspace root cannot be deleted."
    )
    category = "files"
    Input = FileDeleteInput
    Output = FileDeleteOutput

    async def run(self, args: FileDeleteInput, ctx: ToolContext) -> FileDeleteOutput:
        root, target = workspace_path(ctx, args.path, follow_final=False)
        if target == root:
            raise ToolInputError("The workspace root cannot be deleted.")
        shown = relative_name(root, target)
        deleted = await asyncio.to_thread(_delete, target, shown, args.recursive)
        return FileDeleteOutput(path=shown, deleted=deleted)


# --- file_search ----------------------------------------------------------------------------


class FileSearchInput(BaseModel):
    query: str = Field(
        min_length=1, max_length=1000, description="Text to find, or a regular expression."
    )
    regex: bool = Field(default=False, description="Treat `query` as a Python regular expression.")
    case_sensitive: bool = False
    path: PathText = Field(default=".", description="Folder (or single file) to search in.")
    pattern: str | None = Field(
        default=None, max_length=200, description="Only search files whose name matches this glob."
    )
    max_results: int = Field(default=100, ge=1, le=1000, description="Most matching lines.")


class SearchMatch(BaseModel):
    path: str = Field(description="File path relative to the workspace root.")
    line: int = Field(description="1-based line number.")
    text: str = Field(description="The matching line (long lines are cut).")


class FileSearchOutput(BaseModel):
    matches: list[SearchMatch]
    files_scanned: int
    truncated: bool = Field(description="True when the search stopped at max_results.")


def _search(
    root: Path, top: Path, matcher: re.Pattern[str], pattern: str | None, limit: int
) -> FileSearchOutput:
    files: Iterable[Path] = [top] if top.is_file() else _walk(top, recursive=True)
    matches: list[SearchMatch] = []
    scanned = 0
    for item in files:
        if scanned >= MAX_SEARCH_FILES:
            break
        if item.is_symlink() or not item.is_file() or not _matches(pattern, item.name):
            continue
        try:
            if item.stat().st_size > MAX_SEARCH_FILE_BYTES:
                continue
            text = _decode(item.read_bytes())
        except OSError:
            continue
        if text is None:
            continue
        scanned += 1
        for number, line in enumerate(text.splitlines(), start=1):
            # Cut very long lines before matching so one minified file cannot stall a regex.
            if matcher.search(line[:10_000]):
                if len(matches) == limit:
                    return FileSearchOutput(matches=matches, files_scanned=scanned, truncated=True)
                shown = line.strip()
                matches.append(
                    SearchMatch(
                        path=relative_name(root, item),
                        line=number,
                        text=shown[:MAX_LINE_CHARS],
                    )
                )
    return FileSearchOutput(matches=matches, files_scanned=scanned, truncated=False)


@builtin_tool
class FileSearch(Tool):
    name = "file_search"
    description = (
        "Search the text files of the workspace (or one folder or file of it) for a substring, "
        "or a Python regular expression with regex=true. Returns matching lines as path, line "
        "number and text. Case-insensitive unless case_sensitive=true; binary files and files "
        "over 5 MB are skipped."
    )
    category = "files"
    Input = FileSearchInput
    Output = FileSearchOutput

    async def run(self, args: FileSearchInput, ctx: ToolContext) -> FileSearchOutput:
        root, top = workspace_path(ctx, args.path)
        if not top.exists():
            raise ToolError(f"'{relative_name(root, top)}' does not exist.")
        flags = 0 if args.case_sensitive else re.IGNORECASE
        source = args.query if args.regex else re.escape(args.query)
        try:
            matcher = re.compile(source, flags)
        except re.error as exc:
            raise ToolInputError(f"Invalid regular expression: {exc}") from exc
        return await asyncio.to_thread(_search, root, top, matcher, args.pattern, args.max_results)
