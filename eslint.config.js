// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * The layers of src/ and what each may not import: dependencies point inward
 * (transport → rpc → handlers → app → domain; storage plugs into app;
 * converters sit between the generated code and the app's types). Matched on
 * the import path as written (relative paths, so `(../)+app/` is src/app
 * from anywhere in src).
 */
const banned = {
  driver: { regex: "^mongodb$", message: "Only src/storage (and the embedded store) talk to MongoDB: ask a store, or the app." },
  generated: { regex: "(^|/)gen/", message: "Generated protobuf code stays at the edge: convert in src/convert." },
  protobuf: { regex: "^@bufbuild/", message: "Protobuf stays at the edge: convert in src/convert." },
  transport: { regex: "^@(connectrpc|grpc)/", message: "Transport packages stay in src/rpc, src/handlers, src/transport and src/ops." },
  doorPackages: {
    regex: "^(@grpc/|@connectrpc/connect-node)",
    message: "The pipeline and handlers are door-neutral: door packages belong in src/transport.",
  },
  logger: { regex: "^pino", message: "Pure rules do no logging." },
  storeInternals: {
    regex: "^\\.{1,2}/(.*/)?embedded-mongo/|^@roster/embedded-mongo/(?!testing$)",
    message: 'The embedded store is a package: import "@roster/embedded-mongo" (or "@roster/embedded-mongo/testing"), never its files.',
  },
};

/** The embedded store's package (src/embedded-mongo) imports nothing of Roster: it is a product of its own. */
const outOfStorePackage = {
  regex:
    "^(\\.\\./)+(src|gen|test|bench|app|auth|cli|convert|domain|handlers|ops|rpc|storage|transport)/|^(\\.\\./)+(config|server|main)\\.ts$",
  message: "The embedded store's package imports nothing of Roster (it talks to it only through a mongodb:// URI).",
};

/** Imports of the listed src/ folders, from anywhere in src. */
function layers(names, message) {
  return { regex: `^(\\.\\./)+(${names.join("|")})/`, message };
}

/**
 * One `no-restricted-imports` block per layer (the last block matching a file
 * wins, so each lists all its bans); every file outside the store's package
 * also may not reach into it.
 */
const layering = [
  { files: ["src/**/*.ts"], ignores: ["src/storage/**", "src/embedded-mongo/**"], patterns: [banned.driver] },
  {
    files: ["src/domain/**/*.ts"],
    patterns: [
      banned.driver,
      banned.generated,
      banned.protobuf,
      banned.transport,
      banned.logger,
      layers(
        ["app", "storage", "rpc", "handlers", "transport", "ops", "auth", "convert", "cli", "embedded-mongo"],
        "The domain is pure: it imports only the domain.",
      ),
      { regex: "^\\.\\./(config|server|main)\\.ts$", message: "The domain is pure: it imports only the domain." },
    ],
  },
  {
    files: ["src/storage/**/*.ts"],
    patterns: [
      banned.generated,
      banned.protobuf,
      banned.transport,
      layers(
        ["app", "rpc", "handlers", "transport", "ops", "auth", "convert", "cli"],
        "Storage plugs into the app: it imports only the domain.",
      ),
    ],
  },
  {
    files: ["src/app/**/*.ts"],
    patterns: [
      banned.driver,
      banned.generated,
      banned.protobuf,
      banned.transport,
      layers(
        ["rpc", "handlers", "transport", "ops", "auth", "convert", "cli"],
        "The app knows no transport: it imports the domain and storage.",
      ),
    ],
  },
  {
    files: ["src/convert/**/*.ts"],
    patterns: [
      banned.driver,
      banned.transport,
      layers(
        ["storage", "rpc", "handlers", "transport", "ops", "auth", "cli"],
        "Converters map generated code to the app's types and nothing else.",
      ),
    ],
  },
  {
    files: ["src/rpc/**/*.ts"],
    patterns: [
      banned.driver,
      banned.doorPackages,
      layers(
        ["storage", "handlers", "transport", "ops", "cli"],
        "The pipeline never imports handlers, doors or storage: share through src/convert or the app.",
      ),
    ],
  },
  {
    files: ["src/handlers/**/*.ts"],
    patterns: [
      banned.driver,
      banned.doorPackages,
      layers(["storage", "transport", "ops", "cli"], "Handlers call the app, never storage or a door."),
    ],
  },
  {
    files: ["src/transport/**/*.ts"],
    patterns: [banned.driver, layers(["app", "storage", "handlers", "convert", "domain"], "A door speaks to the pipeline only.")],
  },
  {
    files: ["src/auth/**/*.ts"],
    patterns: [
      banned.driver,
      banned.generated,
      banned.transport,
      layers(["app", "storage", "rpc", "handlers", "transport", "ops", "convert", "cli"], "Authentication needs only the domain."),
    ],
  },
  {
    files: ["src/ops/**/*.ts"],
    patterns: [
      banned.driver,
      layers(["app", "handlers", "convert"], "Operations endpoints observe the pipeline and storage, not the use cases."),
    ],
  },
  { files: ["test/**/*.ts", "bench/**/*.ts", "vitest.config.ts"], patterns: [] },
]
  .map((block) => ({ ...block, patterns: [...block.patterns, banned.storeInternals] }))
  .concat([
    {
      files: ["src/embedded-mongo/**/*.ts"],
      ignores: ["src/embedded-mongo/test/**"],
      patterns: [outOfStorePackage, { regex: "^mongodb$", message: "The store is the server: only its tests use the driver." }],
    },
    { files: ["src/embedded-mongo/test/**/*.ts"], patterns: [outOfStorePackage] },
  ])
  .map(({ files, ignores, patterns }) => ({
    files,
    ...(ignores === undefined ? {} : { ignores }),
    rules: { "no-restricted-imports": ["error", { patterns }] },
  }));

export default tseslint.config(
  { ignores: ["gen/**", "node_modules/**", "data/**", "dist/**", "coverage/**", ".scratch/**"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true, allowNullish: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-unnecessary-condition": ["error", { allowConstantLoopConditions: true }],
    },
  },
  ...layering,
  {
    // no-restricted-imports does not see import(): the same ban for dynamic imports.
    files: ["**/*.ts"],
    ignores: ["src/embedded-mongo/**"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: `ImportExpression[source.value=/${banned.storeInternals.regex.replaceAll("/", "\\/")}/]`,
          message: banned.storeInternals.message,
        },
      ],
    },
  },
  {
    files: ["eslint.config.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
  },
);
