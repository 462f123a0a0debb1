#!/usr/bin/env node
// Run speedscope's OWN importer (the real code of the npm package
// speedscope@1.25.0) headless in Node, on one or more profile files.
//
//   node import_check.js [--frame-names] PROFILE.json [PROFILE2.json ...]
//
// For every file, one line of JSON is printed to stdout:
//   {"file", "ok": true, "importedAs", "name", "indexToView", "speedscope",
//    "profiles": [{"name", "unit", "totalWeight", "totalNonIdleWeight",
//                  "samples", "calls", "frames", "profileFrames", "maxDepth",
//                  "frameNames" (only with --frame-names)}]}
// or
//   {"file", "ok": false, "error": "<message>", "importedAs"}
// The exit code is 1 if any file failed, 2 on a harness/setup error.
//
// Fields (all read back from speedscope's own ProfileGroup / Profile objects):
//   importedAs   which importer speedscope picked (from its "Importing as ..."
//                log line, e.g. "speedscope json file"), or null
//   speedscope   version from dist/release/release.txt
//   name, indexToView   ProfileGroup.name / .indexToView
//   unit         Profile.getWeightUnit() ("none", "nanoseconds", "bytes", ...)
//   totalWeight  Profile.getTotalWeight(); speedscope keeps no start/endValue:
//                for speedscope JSON this is max(endValue - startValue, last
//                event time / sum of weights)
//   totalNonIdleWeight  Profile.getTotalNonIdleWeight()
//   samples      length of the profile's internal samples array: weighted
//                stacks after speedscope merges consecutive identical stacks
//                and drops zero weights (evented: one per non-empty interval)
//   calls        number of openFrame callbacks of Profile.forEachCall (what the
//                time-ordered flame chart draws)
//   frames       distinct frames seen in forEachCall
//   profileFrames  frames known to the profile (Profile.forEachFrame), which
//                includes frames that only had zero-weight calls
//   maxDepth     deepest stack seen in forEachCall
//   frameNames   sorted distinct names of those frames, after demangling
// A file fails when the importer throws, returns null ("Unrecognized format"),
// returns no profiles (the app rejects that too) or a null profile entry.
// After import, every profile is demangled as the app does.
//
// How it works: speedscope ships only a browser bundle (dist/release/
// speedscope-<hash>.js, one esbuild IIFE; the app's lazy `import('../import')`
// is inlined as a lazily-initialised esbuild module). We locate that module in
// the minified source through its (unminified) export map, which contains
// `importProfilesFromArrayBuffer:()=>...`, inject one statement right after the
// module's lazy initialiser is defined that hands `() => (init(), namespace)`
// to us, and then throw a sentinel so that the UI part of the bundle (preact
// rendering into document.body) never runs. All lazily-initialised modules are
// defined before that point, so the importer is complete. The bundle runs in a
// separate node:vm context with a handful of browser globals.
//
// The speedscope directory is <this script's dir>/node_modules/speedscope, or
// $SPEEDSCOPE_DIR (either the package dir or its dist/release dir). Its
// release.txt must say 1.25.0 unless $SPEEDSCOPE_ANY_VERSION is set (for trying
// another release by hand). $SPEEDSCOPE_VERBOSE=1 copies speedscope's console
// output and the harness's timings to stderr.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const util = require('node:util');

const EXPECTED_VERSION = '1.25.0';

function fail(message) {
  process.stderr.write(`import_check.js: ${message}\n`);
  process.exit(2);
}

function releaseDir() {
  const override = process.env.SPEEDSCOPE_DIR;
  const base = override ? path.resolve(override) : path.join(__dirname, 'node_modules', 'speedscope');
  for (const candidate of [path.join(base, 'dist', 'release'), base]) {
    if (fs.existsSync(path.join(candidate, 'index.html'))) return candidate;
  }
  fail(`speedscope release bundle not found under ${base} (run npm ci in ${__dirname} or set SPEEDSCOPE_DIR)`);
}

function bundleFile(dir) {
  // index.html names the one script the app loads.
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  const m = /<script[^>]*\ssrc="([^"]+\.js)"/.exec(html);
  if (!m) fail(`no <script src> in ${path.join(dir, 'index.html')}`);
  return path.join(dir, m[1]);
}

function releaseVersion(dir) {
  // release.txt: "speedscope@1.25.0\n<date>\n<commit>"
  try {
    const first = fs.readFileSync(path.join(dir, 'release.txt'), 'utf8').split('\n')[0].trim();
    const at = first.lastIndexOf('@');
    return at >= 0 ? first.slice(at + 1) : first;
  } catch {
    return null;
  }
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// Returns the bundle source with the capture hook injected.
function instrument(src) {
  const ns = /var ([\w$]+)=\{\};[\w$]+\(\1,\{[^{}]*\bimportProfilesFromArrayBuffer:\(\)=>[\w$]+[^{}]*\}\);/.exec(src);
  if (!ns) fail('could not find the importer module (export map with importProfilesFromArrayBuffer) in the bundle');
  const nsName = ns[1];
  const load = new RegExp(`\\(\\)=>\\(([\\w$]+)\\(\\),${escapeRe(nsName)}\\)`).exec(src);
  if (!load) fail(`could not find the lazy import of the importer module (()=>(init(),${nsName}))`);
  const initName = load[1];
  const def = new RegExp(`var ${escapeRe(initName)}=[\\w$]+\\(\\(\\)=>\\{"use strict";[^{}]*\\}\\);`).exec(src);
  if (!def) fail(`could not find the definition of the importer's lazy initialiser ${initName}`);
  const at = def.index + def[0].length;
  const hook = `__speedscopeHarness.capture(()=>(${initName}(),${nsName}));throw __speedscopeHarness.stop;`;
  return src.slice(0, at) + hook + src.slice(at);
}

function makeContext(logs) {
  const noop = () => {};
  const record = (...args) => logs.push(util.format(...args));
  const fakeConsole = {
    log: record, info: record, warn: record, error: record, debug: record, trace: record,
    assert: (cond, ...args) => { if (!cond) record('Assertion failed:', ...args); },
    time: noop, timeEnd: noop, timeLog: noop, group: noop, groupEnd: noop, table: record,
  };
  const stop = { speedscopeHarnessStop: true };
  const harness = { stop, importer: null, capture(fn) { harness.importer = fn; } };
  // Only these globals are needed: the part of the bundle evaluated before the
  // hook (utility code, the lazily-initialised module definitions) touches no
  // browser API at top level, and the importer itself needs console (it logs
  // "Importing as ..."), TextEncoder (wasm-bindgen glue initialised with the
  // importer) and TextDecoder (without it speedscope decodes text as ASCII).
  // The timer/URL/base64 functions are there for code paths of other formats.
  const sandbox = {
    __speedscopeHarness: harness,
    console: fakeConsole,
    TextDecoder, TextEncoder,
    setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask,
    URL, URLSearchParams, atob, btoa, performance,
  };
  sandbox.window = sandbox;
  sandbox.self = sandbox;
  const context = vm.createContext(sandbox);
  return { context, harness };
}

function loadImporter(bundlePath, logs) {
  const src = instrument(fs.readFileSync(bundlePath, 'utf8'));
  const { context, harness } = makeContext(logs);
  try {
    vm.runInContext(src, context, { filename: bundlePath });
  } catch (e) {
    if (e !== harness.stop) throw e;
  }
  if (!harness.importer) fail('the importer hook was never reached while evaluating the bundle');
  const mod = harness.importer();
  if (typeof mod.importProfilesFromArrayBuffer !== 'function') fail('importProfilesFromArrayBuffer is not a function');
  // Allocate input buffers inside the vm realm so `instanceof ArrayBuffer` etc. hold there.
  const U8 = vm.runInContext('Uint8Array', context);
  return { mod, U8 };
}

function summarizeProfile(p, withFrameNames) {
  const seen = new Set();
  let calls = 0;
  let depth = 0;
  let maxDepth = 0;
  p.forEachCall(
    (node) => {
      calls++;
      seen.add(node.frame);
      depth++;
      if (depth > maxDepth) maxDepth = depth;
    },
    () => { depth--; },
  );
  let profileFrames = 0;
  p.forEachFrame(() => { profileFrames++; });
  const summary = {
    name: p.getName(),
    unit: p.getWeightUnit(),
    totalWeight: p.getTotalWeight(),
    totalNonIdleWeight: p.getTotalNonIdleWeight(),
    samples: Array.isArray(p.samples) ? p.samples.length : null,
    calls,
    frames: seen.size,
    profileFrames,
    maxDepth,
  };
  if (withFrameNames) summary.frameNames = [...new Set([...seen].map((f) => f.name))].sort();
  return summary;
}

function errorMessage(e) {
  if (e instanceof Error || (e && typeof e.message === 'string')) return e.message;
  return String(e);
}

async function checkFile(file, mod, U8, logs, withFrameNames, version) {
  const start = logs.length;
  const importedAs = () => {
    for (const line of logs.slice(start)) {
      const m = /^Importing as (.*)$/.exec(line);
      if (m) return m[1];
    }
    return null;
  };
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    return { file, ok: false, error: `cannot read file: ${errorMessage(e)}`, importedAs: null };
  }
  const buf = new U8(bytes.length);
  buf.set(bytes);
  let group;
  const t0 = performance.now();
  try {
    group = await mod.importProfilesFromArrayBuffer(path.basename(file), buf.buffer);
    logs.push(`[harness] ${file}: speedscope import took ${(performance.now() - t0).toFixed(0)} ms`);
    if (group == null) {
      return { file, ok: false, error: 'Unrecognized format! (speedscope importer returned null)', importedAs: importedAs() };
    }
    if (group.profiles.length === 0) {
      return { file, ok: false, error: "Successfully imported profile, but it's empty!", importedAs: importedAs() };
    }
    group.profiles.forEach((p, i) => {
      // e.g. a speedscope-JSON profile whose "type" is neither "evented" nor "sampled"
      if (p == null) throw new Error(`profile #${i} was not imported (importer returned ${p} for it)`);
    });
    // What the app does next (Application.loadProfile): demangle every profile.
    for (const p of group.profiles) await p.demangle();
    const t1 = performance.now();
    const profiles = group.profiles.map((p) => summarizeProfile(p, withFrameNames));
    logs.push(`[harness] ${file}: import+demangle ${(t1 - t0).toFixed(0)} ms, summary ${(performance.now() - t1).toFixed(0)} ms`);
    return {
      file,
      ok: true,
      importedAs: importedAs(),
      speedscope: version,
      name: group.name,
      indexToView: group.indexToView,
      profiles,
    };
  } catch (e) {
    return { file, ok: false, error: errorMessage(e), importedAs: importedAs() };
  }
}

async function main() {
  const args = process.argv.slice(2);
  const withFrameNames = args[0] === '--frame-names';
  const files = withFrameNames ? args.slice(1) : args;
  if (files.length === 0) {
    process.stderr.write('usage: node import_check.js [--frame-names] PROFILE [PROFILE2 ...]\n');
    process.exit(2);
  }
  const dir = releaseDir();
  const version = releaseVersion(dir);
  if (version !== EXPECTED_VERSION && !process.env.SPEEDSCOPE_ANY_VERSION) {
    fail(`expected speedscope ${EXPECTED_VERSION} in ${dir}, found ${version}`);
  }
  const logs = [];
  const { mod, U8 } = loadImporter(bundleFile(dir), logs);
  let failed = false;
  for (const file of files) {
    const result = await checkFile(file, mod, U8, logs, withFrameNames, version);
    if (!result.ok) failed = true;
    // SPEEDSCOPE_VERBOSE=1: speedscope's own console output and harness timings
    if (process.env.SPEEDSCOPE_VERBOSE) process.stderr.write(logs.join('\n') + '\n');
    logs.length = 0;
    process.stdout.write(JSON.stringify(result) + '\n');
  }
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
