"""A small MCP server written with the Python MCP SDK (MCPServer, formerly FastMCP), served
over Streamable HTTP (stateful, SSE answers) as an upstream of `mcp-oauth proxy` in the tests.

    python python_server.py PORT
"""

import sys

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("python-peer")


@server.tool()
def echo(message: str) -> str:
    """Echoes the message."""
    return message


@server.tool()
def secret_tool() -> str:
    """A tool the tests guard with a scope."""
    return "secret"


@server.tool()
def request_headers(ctx: Context) -> dict[str, list[str]]:
    """The HTTP headers of the request that carried this call, as the server received them
    (names in lower case, every value of each): what the proxy forwards, and what it does not.
    """
    request = ctx.request_context.request
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items() if request is not None else []:
        headers.setdefault(name.lower(), []).append(value)
    return headers


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
