"""Drives `activitylog mcp` with the official MCP Python SDK (`pip install mcp`).

    python3 client.py stdio PROGRAM [ARG...] < calls.json
    python3 client.py http URL < calls.json

calls.json is a list of tool calls, {"tool": NAME, "arguments": {...}}. The driver
starts a session, lists the tools, makes the calls in order, and prints one JSON
object: {"server": ..., "instructions": ..., "tools": [...], "results": [...]}, each
result {"is_error": bool, "structured": ..., "text": ...}. A call with
"all_pages": true is repeated with each answer's `cursor` while it says `more`;
its result is the last answer's, with "pages": every answer's structured content.
"""

import asyncio
import json
import os
import sys

try:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from mcp.client.streamable_http import streamable_http_client
except ImportError:
    sys.exit("the MCP Python SDK is missing: run `pip install mcp` (see .ci/run)")


async def session_calls(session, calls):
    init = await session.initialize()
    tools = await session.list_tools()
    results = []
    for call in calls:
        arguments = dict(call.get("arguments", {}))
        pages = []
        while True:
            result = await session.call_tool(call["tool"], arguments)
            result = result.model_dump(mode="json", by_alias=True)
            text = "".join(c.get("text", "") for c in result.get("content", []))
            out = {
                "is_error": bool(result.get("isError")),
                "structured": result.get("structuredContent"),
                "text": text,
            }
            if not call.get("all_pages") or out["is_error"]:
                break
            pages.append(out["structured"])
            if not out["structured"].get("more"):
                out["pages"] = pages
                break
            arguments["cursor"] = out["structured"]["cursor"]
        results.append(out)
    init = init.model_dump(mode="json", by_alias=True)
    return {
        "server": init.get("serverInfo"),
        "instructions": init.get("instructions"),
        "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools.tools],
        "results": results,
    }


async def main():
    calls = json.load(sys.stdin)
    mode, target = sys.argv[1], sys.argv[2:]
    if mode == "stdio":
        # The server gets this process's environment (credentials, API URL),
        # not the SDK's short default list.
        params = StdioServerParameters(command=target[0], args=target[1:], env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                out = await session_calls(session, calls)
    elif mode == "http":
        async with streamable_http_client(target[0]) as (read, write):
            async with ClientSession(read, write) as session:
                out = await session_calls(session, calls)
    else:
        sys.exit(f"unknown mode {mode}: stdio or http")
    json.dump(out, sys.stdout)


asyncio.run(main())
