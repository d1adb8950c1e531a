// Differential checking, V8's half: reads fuzz_exec's lines (see
// fuzz_exec.c) and runs the same modules on Node.js, printing every input
// whose outcome differs.
//
// Usage: node differential.mjs MODULE_DIR < fuzz_exec_output
// Exit status 1 when an outcome differs or nothing could be compared. A trap that V8 reports as a
// RangeError (its own stack limit) is counted apart, not as a difference:
// the two engines' call-depth limits are not the same.
import { readFileSync } from 'node:fs';

const moduleDir = process.argv[2];
const lines = readFileSync(0, 'utf8').split('\n').filter((line) => line.length > 0);

// The parameter types of "f" per type index (body_module.h).
const paramTypes = [[], [], ['i32'], ['i32', 'i64', 'f32', 'f64'], ['i64', 'i64'], []];
const resultTypes = [[], ['i32'], ['i32'], ['f64'], ['i64'], ['i32', 'i64']];

function typeIndex(bytes) {
  // The function section is the one with id 3 right after the imports:
  // "03 02 01 <type>"; find it after the header.
  for (let i = 8; i + 3 < bytes.length; i++) {
    if (bytes[i] === 0x03 && bytes[i + 1] === 0x02 && bytes[i + 2] === 0x01) return bytes[i + 3];
  }
  return -1;
}

function format(type, value) {
  if (type === 'i32') return `i32:${value >>> 0}`;
  if (type === 'i64') return `i64:${BigInt.asUintN(64, value)}`;
  if (Number.isNaN(value)) return `${type}:nan`;
  if (type === 'f32') {
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, value);
    return `f32:${view.getUint32(0).toString(16).padStart(8, '0')}`;
  }
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  return `f64:${view.getBigUint64(0).toString(16).padStart(16, '0')}`;
}

function memoryText(memory) {
  const bytes = new Uint8Array(memory.buffer);
  let hash = 2166136261;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], 16777619) >>> 0;
  return `mem ${bytes.length / 65536}:${hash.toString(16).padStart(8, '0')}`;
}

let compared = 0, differences = 0, stackLimits = 0;
for (const line of lines) {
  const [name, outcome] = line.split(' ', 2);
  if (outcome !== 'ok' && outcome !== 'trap') continue;
  const bytes = readFileSync(`${moduleDir}/${name}.wasm`);
  const type = typeIndex(bytes);
  let ours = line.slice(name.length + 1);
  let theirs;
  try {
    const { instance } = await WebAssembly.instantiate(bytes, {
      fuzz: { increment: (x) => (x + 1) | 0, suspend: () => {} },
    });
    const args = paramTypes[type].map((t) => (t === 'i64' ? 0n : 0));
    let result = instance.exports.f(...args);
    const types = resultTypes[type];
    if (types.length === 1) result = [result];
    if (types.length === 0) result = [];
    theirs = ['ok', ...types.map((t, i) => format(t, result[i])), memoryText(instance.exports.m)]
      .join(' ');
  } catch (error) {
    if (error instanceof RangeError && outcome === 'trap') {
      stackLimits++;
      continue;
    }
    theirs = error instanceof WebAssembly.RuntimeError || error instanceof RangeError
      ? 'trap' : `error ${error.message}`;
  }
  compared++;
  if (theirs !== ours) {
    differences++;
    console.log(`DIFF ${name}\n  ours: ${ours}\n  V8:   ${theirs}`);
  }
}
console.log(`compared ${compared}, differences ${differences}, V8 stack-limit traps ${stackLimits}`);
if (compared === 0) console.log('nothing was compared');
process.exit(differences || compared === 0 ? 1 : 0);
