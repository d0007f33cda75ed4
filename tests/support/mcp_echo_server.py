"""A tiny MCP server for tests, written with the official SDK: ``python mcp_echo_server.py``
serves stdio; ``python mcp_echo_server.py --http PORT`` serves streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("echo", version="1.0.0")


@server.tool(description="Echo the text back, prefixed with 'echo: '.")
def echo(text: str) -> str:
    return f"echo: {text}"


@server.tool(description="Add two integers.")
def add(a: int, b: int) -> int:
    return a + b


@server.tool(description="Always fails.")
def broken() -> str:
    raise RuntimeError("this tool is broken on purpose")


@server.resource("echo://greeting", name="greeting", description="A fixed greeting.", mime_type="text/plain")
def greeting() -> str:
    return "hello from echo"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
