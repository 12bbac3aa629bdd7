// The web page's HTTP server (kiln serve): plain node:http, its own few files and one blob, GET only, bounded.
import { readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { KilnError } from "../compiler/errors.js";

export interface WebServerOptions {
  /** dist/web: the page bin/build-web.mjs built. */
  webDir: string;
  blob: Uint8Array;
  /** What the page says the blob is: its file name and where it came from. */
  blobFile: string;
  blobNote: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
}

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

/** The page's files; nothing else under dist/web (or anywhere) is ever served. */
const PAGE_FILES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
  "page.js": "text/javascript; charset=utf-8",
  "worker.js": "text/javascript; charset=utf-8",
};
const MAX_PAGE_FILE = 1 << 20;

/** Scripts from this server only; WebAssembly may compile (wasm-unsafe-eval); no inline code, no other origin. */
const SECURITY_HEADERS = {
  "Content-Security-Policy": "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
  // Cross-origin isolation: the browser's clock then ticks in 5 µs instead of 100 µs, which the profile needs.
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

const LOOPBACK_NAMES = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
const isLoopback = (host: string): boolean => LOOPBACK_NAMES.has(host) || host.startsWith("127.");

function readPage(webDir: string): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [name, type] of Object.entries(PAGE_FILES)) {
    const path = join(webDir, name);
    let size: number;
    try { size = statSync(path).size; } catch {
      throw new KilnError(`the web page is not built (${path} is missing): run npm run build`);
    }
    if (size > MAX_PAGE_FILE) throw new KilnError(`${path} is ${size} bytes; the page's files are far smaller (rebuild it: npm run build)`);
    files.set(`/${name}`, { body: readFileSync(path), type });
  }
  files.set("/", files.get("/index.html")!);
  return files;
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const routes = readPage(options.webDir);
  routes.set("/model.wasm", { body: Buffer.from(options.blob), type: "application/wasm" });
  routes.set("/blob.json", { body: Buffer.from(JSON.stringify({ file: options.blobFile, note: options.blobNote, bytes: options.blob.byteLength })), type: "application/json" });
  const checkHost = isLoopback(options.host);

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const send = (status: number, text: string, headers: Record<string, string> = {}): void => {
      response.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "text/plain; charset=utf-8", ...headers }).end(`${text}\n`);
    };
    // A page elsewhere cannot reach a loopback server through a name it re-pointed at 127.0.0.1 (DNS rebinding).
    const hostName = (request.headers.host ?? "").replace(/:\d+$/, "");
    if (checkHost && !isLoopback(hostName)) return send(421, `this server answers to 127.0.0.1 and localhost, not '${hostName.slice(0, 100)}'`);
    if (request.method !== "GET" && request.method !== "HEAD") return send(405, "only GET and HEAD", { Allow: "GET, HEAD" });
    const path = (request.url ?? "/").split("?")[0];
    const file = routes.get(path);
    if (!file) return send(404, "not found");
    response.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": file.type, "Content-Length": String(file.body.length) });
    response.end(request.method === "HEAD" ? undefined : file.body);
  });
  // Bounded: a few dozen connections, and none that dawdles.
  server.maxConnections = 32;
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      reject(e.code === "EADDRINUSE" ? new KilnError(`kiln serve: port ${options.port} on ${options.host} is in use; pick another with --port N (0 picks a free one)`)
        : new KilnError(`kiln serve: cannot listen on ${options.host}:${options.port} (${e.code ?? e.message})`));
    });
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}/`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
