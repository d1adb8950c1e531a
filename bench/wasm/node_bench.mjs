// Node.js (V8) timing driver for one compute kernel's wasm32 module.
//
// Usage: node node_bench.mjs FILE.wasm N REPEATS
// Prints "result <checksum> best <s> median <s>", as the native driver does.
// Only the calls of `run` are timed, not compiling or instantiating.
import { readFileSync } from 'node:fs';

const [file, nText, repeatsText] = process.argv.slice(2);
if (!file || !nText || !repeatsText) {
  console.error('usage: node node_bench.mjs FILE.wasm N REPEATS');
  process.exit(2);
}
const n = Number(nText) >>> 0;
const repeats = Number(repeatsText);

const { instance } = await WebAssembly.instantiate(readFileSync(file), {});
const seconds = [];
let first;
for (let i = 0; i < repeats; i++) {
  const start = process.hrtime.bigint();
  const result = BigInt.asUintN(64, instance.exports.run(n));
  seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
  if (i === 0) {
    first = result;
  } else if (result !== first) {
    console.error(`result changed between runs: ${first} then ${result}`);
    process.exit(1);
  }
}
seconds.sort((a, b) => a - b);
console.log(`result ${first} best ${seconds[0].toFixed(6)} median ${seconds[repeats >> 1].toFixed(6)}`);
