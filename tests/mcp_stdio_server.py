"""A tiny MCP server on stdio, built with the official SDK, for the stdio client tests:
`python tests/mcp_stdio_server.py` (or `python -m tests.mcp_stdio_server`)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("stdio-demo")


@server.tool()
def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


@server.tool()
def whisper(text: str) -> str:
    """Lower-case the text."""
    return text.lower()


if __name__ == "__main__":
    server.run("stdio")
