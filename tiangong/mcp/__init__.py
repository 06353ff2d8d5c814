"""MCP: the platform as an MCP client (registered servers, their tools) and as an MCP server."""
