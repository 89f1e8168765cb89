// Runs tapgift's protocol/ and firmware/ under the real MicroPython
// interpreter (the WebAssembly port from npm) in Node.js.
//
//   node runner.mjs [options] test FILE...        run test_* functions of each file
//   node runner.mjs [options] footprint [MODULE]  heap used by importing MODULE (JSON line)
//   node runner.mjs [options] imports [MODULE...] import modules (default: every one in /lib)
//   node runner.mjs [options] run FILE [JSON]     main() of FILE, _TG_ARGS = JSON
//
// Options:
//   --repo DIR      repository root (default: two levels above this file)
//   --build DIR     load a build folder (DIR/lib/**.mpy, DIR/boot.py, DIR/main.py)
//                   instead of the repository's protocol/ and firmware/ sources
//   --heapsize N    initial MicroPython heap in bytes (default 1 MiB)
//   --timeout MS    limit for one test (default 60000)
//
// Exit code: 0 all passed, 1 something failed, 2 usage or setup error.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACKAGES = ["protocol", "firmware"];
const HARDWARE_MODULES = new Set([
  "machine", "network", "esp", "esp32", "neopixel", "bluetooth", "espnow", "onewire", "dht",
]);

function usage(message) {
  process.stderr.write(`runner.mjs: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { repo: path.resolve(HERE, "..", ".."), build: null, heapsize: 1 << 20, timeout: 60000 };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (["--repo", "--build", "--heapsize", "--timeout"].includes(a)) {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      const v = argv[++i];
      const key = a.slice(2);
      opts[key] = key === "heapsize" || key === "timeout" ? Number(v) : path.resolve(v);
    } else {
      rest.push(a);
    }
  }
  if (rest.length === 0) usage("missing command: test | footprint | imports");
  return { opts, command: rest[0], args: rest.slice(1) };
}

async function loadInterpreter(heapsize) {
  let mod;
  try {
    mod = await import("@micropython/micropython-webassembly-pyscript");
  } catch (e) {
    usage(`cannot load the MicroPython wasm package (run "npm ci" in ${HERE}): ${e.message}`);
  }
  const out = (s) => process.stdout.write(s + "\n");
  const err = (s) => process.stderr.write(s + "\n");
  return mod.loadMicroPython({ stdout: out, stderr: err, heapsize });
}

// Every file under dir whose name passes keep(), as paths relative to dir.
function walk(dir, keep, rel = "") {
  const found = [];
  for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.posix.join(rel, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__") found.push(...walk(dir, keep, r));
    } else if (keep(entry.name)) {
      found.push(r);
    }
  }
  return found.sort();
}

function copyInto(mp, srcDir, files, destDir) {
  for (const rel of files) {
    const dest = path.posix.join(destDir, rel);
    mp.FS.mkdirTree(path.posix.dirname(dest));
    mp.FS.writeFile(dest, fs.readFileSync(path.join(srcDir, rel)));
  }
}

// Returns the module files placed under /lib (relative to /lib).
function installCode(mp, opts) {
  mp.FS.mkdirTree("/lib");
  if (opts.build) {
    const libDir = path.join(opts.build, "lib");
    if (!fs.existsSync(libDir)) usage(`build folder has no lib/: ${opts.build}`);
    const libFiles = walk(libDir, (n) => n.endsWith(".mpy") || n.endsWith(".py"));
    copyInto(mp, libDir, libFiles, "/lib");
    const rootFiles = fs.readdirSync(opts.build).filter((n) => n.endsWith(".py"));
    copyInto(mp, opts.build, rootFiles, "/");
    return libFiles;
  }
  const files = [];
  for (const pkg of PACKAGES) {
    const dir = path.join(opts.repo, pkg);
    if (!fs.existsSync(dir)) continue;
    const pyFiles = walk(dir, (n) => n.endsWith(".py")).map((f) => path.posix.join(pkg, f));
    copyInto(mp, opts.repo, pyFiles, "/lib");
    files.push(...pyFiles);
  }
  return files;
}

function moduleName(rel) {
  const parts = rel.replace(/\.(py|mpy)$/, "").split("/");
  if (parts[parts.length - 1] === "__init__") parts.pop();
  return parts.join(".");
}

const pyStr = (s) => JSON.stringify(s); // a JSON string literal is a valid Python literal here

// Defined once in __main__: reports one outcome with the traceback indented below.
const HELPERS = `
import sys, io, gc
def _tg_report(label, exc):
    if exc is None:
        print("PASS " + label)
        return True
    print("FAIL %s: %r" % (label, exc))
    buf = io.StringIO()
    sys.print_exception(exc, buf)
    for line in buf.getvalue().splitlines():
        print("    " + line)
    return False
def _tg_is_awaitable(value):
    return type(value).__name__ in ("generator", "coroutine")
_tg_ok = False
`;

async function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

function testNames(mp, source, modName) {
  // MicroPython dicts do not keep insertion order: take definition order from the source.
  const fromSource = [...source.matchAll(/^(?:async\s+)?def\s+(test_\w+)\s*\(/gm)].map((m) => m[1]);
  mp.runPython(
    `_tg_m = sys.modules[${pyStr(modName)}]\n` +
      `_tg_names = ",".join(sorted(n for n in dir(_tg_m) if n.startswith("test_") and callable(getattr(_tg_m, n))))`,
  );
  const present = (mp.globals.get("_tg_names") || "").split(",").filter(Boolean);
  const ordered = [...new Set(fromSource)].filter((n) => present.includes(n));
  return ordered.concat(present.filter((n) => !ordered.includes(n)));
}

async function runOneTest(mp, modName, name, label, timeout) {
  const code =
    `try:\n` +
    `    _tg_r = getattr(sys.modules[${pyStr(modName)}], ${pyStr(name)})()\n` +
    `    if _tg_is_awaitable(_tg_r):\n` +
    `        await _tg_r\n` +
    `    _tg_ok = _tg_report(${pyStr(label)}, None)\n` +
    `except Exception as _tg_e:\n` +
    `    _tg_ok = _tg_report(${pyStr(label)}, _tg_e)\n` +
    `_tg_r = _tg_e = None\n` +
    `gc.collect()\n`;
  try {
    await withTimeout(Promise.resolve(mp.runPythonAsync(code)), timeout, label);
    return mp.globals.get("_tg_ok") === true;
  } catch (e) {
    console.log(`FAIL ${label}: ${e.type || e.name}: ${e.message}`);
    return false;
  }
}

function importTestModule(mp, modName, label) {
  try {
    mp.runPython(`_tg_ok = False\ntry:\n    for _tg_m in ${pyStr(modName)}.split(","):
        __import__(_tg_m)\n    _tg_ok = True\nexcept Exception as _tg_e:\n    _tg_report(${pyStr(label)}, _tg_e)\n`);
    return mp.globals.get("_tg_ok") === true;
  } catch (e) {
    console.log(`FAIL ${label}: ${e.type || e.name}: ${e.message}`);
    return false;
  }
}

function displayPath(file, repo) {
  const rel = path.relative(repo, file);
  return rel.startsWith("..") ? file : rel.split(path.sep).join("/");
}

async function commandTest(mp, opts, files) {
  if (files.length === 0) usage("test: no test files given");
  mp.runPython(HELPERS + `sys.path.append("/tests")\n`);
  let passed = 0;
  let failed = 0;
  for (const file of files.map((f) => path.resolve(f))) {
    if (!fs.existsSync(file)) usage(`no such test file: ${file}`);
    // Copy the whole folder so a test file can import its neighbours.
    const dir = path.dirname(file);
    copyInto(mp, dir, fs.readdirSync(dir).filter((n) => n.endsWith(".py")), "/tests");
    const modName = path.basename(file, ".py");
    const shown = displayPath(file, opts.repo);
    if (!importTestModule(mp, modName, `${shown}::<import>`)) {
      failed++;
      continue;
    }
    for (const name of testNames(mp, fs.readFileSync(file, "utf8"), modName)) {
      if (await runOneTest(mp, modName, name, `${shown}::${name}`, opts.timeout)) passed++;
      else failed++;
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

function commandFootprint(mp, opts, args) {
  // One module, or several separated by commas, imported in that order.
  const modName = args[0] || "firmware.app";
  // Globals are bound before the first measurement so storing them allocates nothing later.
  // Three calls: the WebAssembly port's gc.collect() frees what a runPython call allocated
  // only once that call has returned (the import's compile garbage would count otherwise).
  mp.runPython(`
import gc, sys, json
_tg_before = _tg_after = 0
_tg_error = _tg_m = None
gc.collect()
_tg_before = gc.mem_alloc()
`);
  mp.runPython(`
try:
    for _tg_m in ${pyStr(modName)}.split(","):
        __import__(_tg_m)
except Exception as e:
    _tg_error = repr(e)
`);
  const code = `
gc.collect()
_tg_after = gc.mem_alloc()
if _tg_error is None:
    print(json.dumps({"heap_bytes": _tg_after - _tg_before, "heap_before": _tg_before,
                      "heap_after": _tg_after, "module": ${pyStr(modName)},
                      "loaded_from": ${pyStr(opts.build ? "mpy" : "py")}, "micropython": sys.version}))
else:
    print(json.dumps({"error": _tg_error, "module": ${pyStr(modName)}, "micropython": sys.version}))
`;
  mp.runPython(code);
  return mp.globals.get("_tg_error") === null ? 0 : 1;
}

// Imports each module; in a build, also proves it came from .mpy and that the
// source files left at the root (boot.py, main.py) compile.
function commandImports(mp, opts, args, libFiles) {
  mp.runPython(HELPERS);
  const all = libFiles.map(moduleName).filter((m) => !/(^|\.)(boot|main)$/.test(m));
  const modules = args.length ? args : [...new Set(all)];
  let passed = 0, failed = 0, skipped = 0;
  for (const m of modules) {
    const outcome = importOne(mp, m, Boolean(opts.build));
    if (outcome === "pass") passed++;
    else if (outcome === "skip") skipped++;
    else failed++;
  }
  if (opts.build) {
    for (const name of fs.readdirSync(opts.build).filter((n) => n.endsWith(".py"))) {
      if (compileOne(mp, "/" + name)) passed++;
      else failed++;
    }
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed ? 1 : 0;
}

function importOne(mp, m, wantMpy) {
  mp.runPython(`
_tg_out = ""
try:
    __import__(${pyStr(m)})
    _tg_out = "pass " + getattr(sys.modules[${pyStr(m)}], "__file__", "?")
except ImportError as e:
    _tg_out = "importerror " + str(e)
except Exception as e:
    _tg_report("import " + ${pyStr(m)}, e)
    _tg_out = "fail"
`);
  const out = mp.globals.get("_tg_out");
  if (out.startsWith("pass ")) {
    const file = out.slice(5);
    if (wantMpy && !file.endsWith(".mpy")) {
      console.log(`FAIL import ${m}: loaded from ${file}, not from .mpy`);
      return "fail";
    }
    console.log(`PASS import ${m} (${file})`);
    return "pass";
  }
  if (out.startsWith("importerror ")) {
    const missing = /'([\w.]+)'/.exec(out)?.[1];
    if (missing && HARDWARE_MODULES.has(missing.split(".")[0])) {
      console.log(`SKIP import ${m}: needs hardware-only module '${missing}'`);
      return "skip";
    }
    console.log(`FAIL import ${m}: ImportError: ${out.slice(12)}`);
  }
  return "fail";
}

function compileOne(mp, file) {
  mp.runPython(`
_tg_ok = False
try:
    with open(${pyStr(file)}) as f:
        compile(f.read(), ${pyStr(file)}, "exec")
    _tg_ok = _tg_report("compile " + ${pyStr(file)}, None)
except Exception as e:
    _tg_report("compile " + ${pyStr(file)}, e)
`);
  return mp.globals.get("_tg_ok") === true;
}

// Runs a Python file that defines `def main()`, with the global _TG_ARGS set to
// the given JSON text: what it prints is the result (hil/micropython/app_footprint.py).
//
// A file may instead define STEPS, a list of function names: each is called in a runPython
// of its own, and the heap is measured in the next one. The WebAssembly port's gc.collect()
// frees nothing allocated during the runPython call it runs in (it frees it once that call
// has returned to JavaScript), so a figure taken inside one call counts the garbage too.
// _tg_heap[name] is then the heap in use after step `name`; main() reports.
function commandRun(mp, opts, args) {
  if (args.length < 1) usage("run: FILE [JSON]");
  const code = fs.readFileSync(path.resolve(args[0]), "utf8");
  mp.globals.set("_TG_ARGS", args[1] || "{}");
  try {
    mp.runPython(code);
    mp.runPython("_tg_steps = ','.join(globals().get('STEPS', ()))\nimport gc\n_tg_heap = {}");
    const steps = (mp.globals.get("_tg_steps") || "").split(",").filter(Boolean);
    for (const name of steps) {
      mp.runPython(`${name}()`);
      mp.runPython(`gc.collect()\n_tg_heap[${pyStr(name)}] = gc.mem_alloc()`);
    }
    mp.runPython("main()");
    return 0;
  } catch (e) {
    console.log(JSON.stringify({ error: `${e.type || e.name}: ${e.message}` }));
    return 1;
  }
}

async function main() {
  const { opts, command, args } = parseArgs(process.argv.slice(2));
  const mp = await loadInterpreter(opts.heapsize);
  const libFiles = installCode(mp, opts);
  if (command === "run") return commandRun(mp, opts, args);
  if (command === "test") return commandTest(mp, opts, args);
  if (command === "footprint") return commandFootprint(mp, opts, args);
  if (command === "imports") return commandImports(mp, opts, args, libFiles);
  usage(`unknown command: ${command}`);
}

// Exit explicitly: tasks a test left behind must not keep Node alive.
main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`runner.mjs: ${e.stack || e}\n`);
    process.exit(2);
  },
);
