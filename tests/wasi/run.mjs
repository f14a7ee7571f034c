// tests/wasi/run.mjs - runs a WASI preview 1 program under Node.js's
// built-in node:wasi: `node tests/wasi/run.mjs prog.wasm [args...]`. The
// program's stdin, stdout and stderr are the process's; its exit code is
// the process's.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';

const wasi = new WASI({ version: 'preview1', args: process.argv.slice(2), env: {},
                        returnOnExit: true });
const mod = await WebAssembly.compile(await readFile(process.argv[2]));
const code = wasi.start(await WebAssembly.instantiate(mod, wasi.getImportObject()));
process.exitCode = code ?? 0;
