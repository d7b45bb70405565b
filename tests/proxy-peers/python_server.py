"""A small MCP server written with the Python MCP SDK (MCPServer, formerly FastMCP), served
over Streamable HTTP (stateful, SSE answers) as an upstream of `mcp-oauth proxy` in the tests.

    python python_server.py PORT
"""

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("python-peer")


@server.tool()
def echo(message: str) -> str:
    """Echoes the message."""
    return message


@server.tool()
def secret_tool() -> str:
    """A tool the tests guard with a scope."""
    return "secret"


@server.resource("peer://greeting")
def greeting() -> str:
    """A resource."""
    return "hello from python"


@server.prompt()
def summarise(text: str) -> str:
    """A prompt."""
    return f"Summarise: {text}"


def main() -> None:
    port = int(sys.argv[1])
    server.run(transport="streamable-http", host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
