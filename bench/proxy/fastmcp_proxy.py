"""FastMCP's proxy in front of a stdio MCP server, protected by FastMCP's JWT verifier: the
other side of bench/proxy-run's comparison with `mcp-oauth proxy --upstream-command`.

    python fastmcp_proxy.py PORT ISSUER JWKS_URL AUDIENCE COMMAND [ARGS...]

`create_proxy` is what FastMCP 3 and later offer in place of `FastMCP.as_proxy` (same
proxy, `FastMCPProxy`); the stdio transport starts the command as the backend.
"""

import sys

from fastmcp.client.transports import StdioTransport
from fastmcp.server import create_proxy
from fastmcp.server.auth.providers.jwt import JWTVerifier


def main() -> None:
    port, issuer, jwks_uri, audience, command, *args = sys.argv[1:]
    verifier = JWTVerifier(jwks_uri=jwks_uri, issuer=issuer, audience=audience, algorithm="RS256")
    proxy = create_proxy(
        StdioTransport(command=command, args=args),
        name="fastmcp-proxy",
        auth=verifier,
    )
    proxy.run(
        transport="http",
        show_banner=False,
        host="127.0.0.1",
        port=int(port),
        path="/mcp",
        log_level="warning",
    )


if __name__ == "__main__":
    main()
