// A real MCP client (the official TypeScript SDK) driven line by line by Warden's MCP test:
// each stdin line is a JSON command, each stdout line the JSON answer. The bearer token comes
// from the environment (never argv, which `ps` shows).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import readline from "node:readline";

const out = (v) => process.stdout.write(JSON.stringify(v) + "\n");
const url = new URL(process.argv[2]);
const headers = process.env.MCP_TOKEN ? { Authorization: `Bearer ${process.env.MCP_TOKEN}` } : {};
const client = new Client({ name: "warden-it", version: "1.0.0" });
try {
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
  out({ ok: true, server: client.getServerVersion(), instructions: client.getInstructions() });
} catch (e) {
  out({ ok: false, error: String(e) });
  process.exit(0);
}

for await (const line of readline.createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line);
  try {
    if (cmd.op === "list_tools") {
      out({ ok: true, result: await client.listTools() });
    } else if (cmd.op === "call") {
      out({ ok: true, result: await client.callTool({ name: cmd.name, arguments: cmd.args }) });
    } else {
      out({ ok: false, error: `unknown op ${cmd.op}` });
    }
  } catch (e) {
    out({ ok: false, error: String(e) });
  }
}
await client.close();
