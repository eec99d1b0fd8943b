/**
 * A static server for the browser test's page, on its own origin (port), with
 * no bundler: the page's TypeScript and the generated code in gen/ are
 * transpiled per request with `typescript`'s transpileModule (types erased,
 * nothing else changed, relative `.ts` imports left as they are), and the
 * libraries are served straight from their ESM builds in node_modules, wired
 * up by an import map built from each package's `exports`.
 *
 * Only the page directory, gen/ and the three packages' dist/esm trees are
 * served; everything else is 404.
 */
import { readFileSync, realpathSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const repoRoot = realpathSync(fileURLToPath(new URL("../../", import.meta.url)));
/** Packages the page imports, directly or through each other. */
const packages = ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web"] as const;
const pageDir = "test/browser/page/";
const servedPrefixes = [pageDir, "gen/", ...packages.map((p) => `node_modules/${p}/dist/esm/`)];
const importMapMarker = "<!-- import map -->";

/** `{"imports": {"@connectrpc/connect": "/node_modules/@connectrpc/connect/dist/esm/index.js", ...}}` */
export function buildImportMap(): { imports: Record<string, string> } {
  const imports: Record<string, string> = {};
  for (const name of packages) {
    const manifest = JSON.parse(readFileSync(join(repoRoot, "node_modules", name, "package.json"), "utf8")) as {
      exports: Record<string, { import?: string } | undefined>;
    };
    for (const [subpath, conditions] of Object.entries(manifest.exports)) {
      const target = conditions?.import;
      if (target === undefined) continue;
      const specifier = subpath === "." ? name : `${name}/${subpath.replace(/^\.\//, "")}`;
      imports[specifier] = `/node_modules/${name}/${target.replace(/^\.\//, "")}`;
    }
  }
  return { imports };
}

function transpile(source: string, fileName: string): string {
  return ts.transpileModule(source, {
    fileName,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      sourceMap: false,
    },
  }).outputText;
}

export interface StaticServer {
  /** The page's origin, e.g. "http://127.0.0.1:41234". */
  readonly origin: string;
  /** URL of the demo page. */
  readonly pageUrl: string;
  close(): Promise<void>;
}

export async function startStaticServer(): Promise<StaticServer> {
  const importMap = `<script type="importmap">${JSON.stringify(buildImportMap())}</script>`;
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
    const served = servedPrefixes.some((prefix) => path.startsWith(prefix)) && !path.split("/").includes("..");
    if (!served || req.method !== "GET") {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
      return;
    }
    const file = join(repoRoot, path);
    let body: string;
    try {
      if (!realpathSync(file).startsWith(repoRoot + sep)) throw new Error("outside the repository");
      body = readFileSync(file, "utf8");
    } catch {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
      return;
    }
    const extension = extname(file);
    if (extension === ".html") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(body.replace(importMapMarker, importMap));
    } else if (extension === ".ts") {
      res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" }).end(transpile(body, file));
    } else if (extension === ".js") {
      res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" }).end(body);
    } else {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    pageUrl: `${origin}/${pageDir}index.html`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
