#!/usr/bin/env python3
"""A small MCP server over stdio (newline-delimited JSON-RPC), for the stdio upstream's
tests: it answers like a server, and misbehaves when told to.

Tools: echo (its arguments back), env (its environment), pid (its process id), crash (exits
at once, answering nothing), sleep (never answers), progress (two progress notifications,
then the answer), sample (asks the client for a sampling/createMessage, answers with its
text), cancellations (the request ids it saw cancelled, and those of its sleep calls).

Flags: --stderr (greets on stderr at start), --flood-stderr (writes stderr lines without
end), --garbage (writes a non-JSON line and a stray response before every answer),
--silent (reads everything, answers nothing), --slow-start (answers initialize after 3 s), --deaf (stops reading its stdin once
initialized), --nap (reads nothing for 2 s after answering initialize).
"""

import json
import os
import sys
import threading
import time

FLAGS = set(sys.argv[1:])
CANCELLED = []
SLEPT = []


def send(message):
    if "--garbage" in FLAGS:
        sys.stdout.write("this is not JSON-RPC\n")
        sys.stdout.write('{"jsonrpc":"2.0","id":987654,"result":{}}\n')
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def answer(request_id, structured):
    text = json.dumps(structured)
    send({"jsonrpc": "2.0", "id": request_id,
          "result": {"content": [{"type": "text", "text": text}], "structuredContent": structured}})


def read():
    line = sys.stdin.readline()
    return json.loads(line) if line else None


def flood():
    n = 0
    while True:
        n += 1
        sys.stderr.write(f"flood line {n}\n")


def call_tool(request_id, params):
    name = params.get("name")
    if name == "echo":
        answer(request_id, params.get("arguments", {}))
    elif name == "env":
        answer(request_id, dict(os.environ))
    elif name == "pid":
        answer(request_id, {"pid": os.getpid()})
    elif name == "crash":
        os._exit(3)
    elif name == "sleep":
        SLEPT.append(request_id)
    elif name == "cancellations":
        answer(request_id, {"cancelled": CANCELLED, "slept": SLEPT})
    elif name == "progress":
        token = params["_meta"]["progressToken"]
        for step in (1, 2):
            send({"jsonrpc": "2.0", "method": "notifications/progress",
                  "params": {"progressToken": token, "progress": step, "total": 2}})
        answer(request_id, {"done": True})
    elif name == "sample":
        send({"jsonrpc": "2.0", "id": "sample-1", "method": "sampling/createMessage",
              "params": {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
                         "maxTokens": 10}})
        while True:
            message = read()
            if message is None:
                return
            if message.get("id") == "sample-1" and "method" not in message:
                answer(request_id, {"sampled": message.get("result", {}).get("content", {}).get("text")})
                return
    else:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": f"unknown tool {name}"}})


def main():
    if "--stderr" in FLAGS:
        print(f"hello from the child {os.getpid()}", file=sys.stderr, flush=True)
    if "--flood-stderr" in FLAGS:
        threading.Thread(target=flood, daemon=True).start()
    while True:
        message = read()
        if message is None:
            return
        if "--silent" in FLAGS:
            continue
        method = message.get("method")
        request_id = message.get("id")
        if method == "initialize":
            if "--slow-start" in FLAGS:
                time.sleep(3)
            send({"jsonrpc": "2.0", "id": request_id,
                  "result": {"protocolVersion": message["params"]["protocolVersion"],
                             "capabilities": {"tools": {}},
                             "serverInfo": {"name": "test-child", "version": "1"}}})
            if "--nap" in FLAGS:
                time.sleep(2)
            if "--deaf" in FLAGS:
                while True:
                    time.sleep(60)
        elif method == "notifications/cancelled":
            CANCELLED.append(message["params"]["requestId"])
        elif method == "tools/call":
            call_tool(request_id, message.get("params", {}))
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": request_id, "result": {}})
        elif method is not None and request_id is not None:
            send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": "Method not found"}})


main()
