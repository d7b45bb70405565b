"""A small MCP server written with the Python MCP SDK (MCPServer, formerly FastMCP), over
stdio, for the stdio upstream's tests. Run with a Python that has the `mcp` package (the
venv of scripts/services/proxy-peers.sh):

    python python_sdk_server.py
"""

from mcp.server.mcpserver import MCPServer

server = MCPServer("python-stdio-peer")


@server.tool()
def echo(message: str) -> str:
    """Echoes the message."""
    return message


@server.resource("peer://greeting")
def greeting() -> str:
    """A resource."""
    return "hello from python"


@server.prompt()
def summarise(text: str) -> str:
    """A prompt."""
    return f"Summarise: {text}"


server.run()
