#!/bin/sh
# The smallest stdio MCP server the proxy benchmark can hold 1,000 sessions with: it answers
# `initialize` (echoing the client's protocol version) and every other request with an empty
# result, reading one JSON-RPC message per line. Only the proxy's memory is measured; the
# children's is not counted.
while IFS= read -r line; do
    case "$line" in
        *'"id"'*) ;;
        *) continue ;;
    esac
    id=$(printf '%s\n' "$line" | sed -n 's/.*"id":\([^,}]*\).*/\1/p')
    case "$line" in
        *'"method":"initialize"'*)
            version=$(printf '%s\n' "$line" | sed -n 's/.*"protocolVersion":"\([^"]*\)".*/\1/p')
            printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"%s","capabilities":{"tools":{}},"serverInfo":{"name":"sh-child","version":"1"}}}\n' "$id" "$version"
            ;;
        *) printf '{"jsonrpc":"2.0","id":%s,"result":{}}\n' "$id" ;;
    esac
done
