#!/usr/bin/env node
// Offline `solc` for forge: answers `--version` in native solc's format and otherwise
// compiles the standard JSON read from stdin with the pinned solc-js (wasm) package.
// Written with fs.writeSync because the `solcjs` CLI truncates large piped output.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

const args = process.argv.slice(2);
if (args.includes('--version') || args.includes('-v')) {
  // solc-js reports e.g. "0.8.37+commit.f401782d.Emscripten.clang"; forge parses the native form.
  const full = solc.version().replace(/\.Emscripten\.clang$/, '.Linux.g++');
  fs.writeSync(1, `solc, the solidity compiler commandline interface\nVersion: ${full}\n`);
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  fs.writeSync(2, 'solc-shim: only --version and --standard-json are supported\n');
  process.exit(2);
}

// Resolve imports the way native solc does with --base-path / --include-path / --allow-paths.
const basePath = valueOf('--base-path') || process.cwd();
const includePaths = valuesOf('--include-path');
function valueOf(flag) {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}
function valuesOf(flag) {
  const out = [];
  args.forEach((a, i) => { if (a === flag && args[i + 1]) out.push(args[i + 1]); });
  return out;
}
function findImports(importPath) {
  const roots = [basePath, ...includePaths, process.cwd()];
  for (const root of roots) {
    const candidate = path.isAbsolute(importPath) ? importPath : path.join(root, importPath);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, 'utf8') };
  }
  return { error: `File not found: ${importPath}` };
}

const input = fs.readFileSync(0, 'utf8');
const output = solc.compile(input, { import: findImports });
fs.writeSync(1, output);
