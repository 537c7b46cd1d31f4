// JSON body parsing on the Check path: JSON.parse alone (what ztauthz did
// before the bounds) against parseJsonBody (src/envoy/JsonBody.ts: one
// iterative scan for depth, member count and duplicate keys, then JSON.parse),
// on realistic AI API bodies, and how fast hostile bodies are refused.
//
//   PATH=$PWD/node_modules/.bin:$PATH node bench/json-body.ts
//   BENCH_MS=300 ...   # time per contender (default 1000)
//
// At 2026-12-04 17:22 (Node 24.21, shared 2-core machine under load, CPU time
// per call, median of 9 alternating rounds of BENCH_MS=3000):
//   body                      JSON.parse  parseJsonBody  (keys "last")
//   chat 1 KB                    1.34 us        2.11 us        1.95 us
//   chat + tools 16 KB           52.7 us        81.9 us        71.8 us
//   tensor 16 KB                 40.5 us        41.8 us        41.6 us
//   tensor 1 MB (110k floats)    3317 us        3451 us        3447 us
//   refusals: 5,000 nested arrays 294 us -> 7.2 us; objects 397 us -> 10 us;
//   1M keys (11.9 MB) 712 ms -> 19 ms (JSON.parse alone; a whole Check took 1.7 s).
// The scan alone on the 16 KB body is 18 us, 27 us with the duplicate check
// (573 keys); a bare charCodeAt loop over the same text takes 12 us.
// Exact numbers (2026-12-04 18:36, BENCH_MS=2000, against the scan before
// it flagged numbers): unchanged without a big number (chat 1 KB 2.06 ->
// 2.07 us, 16 KB 78.4 -> 77.9 us, tensor 1 MB 2988 -> 2994 us); with a
// 20-digit id the reviver runs: 1 KB 2.49 -> 7.23 us, 16 KB 84.6 -> 305 us.
import { parseJsonBody, type JsonBodyLimits } from '../src/envoy/JsonBody.ts';
import { FIELDS } from '../src/config/schema.ts';

const MS = Number(process.env['BENCH_MS'] ?? '1000');
const def = (key: string): number => FIELDS.find((f) => f.key === key)!.default as number;
const LIMITS: JsonBodyLimits = {
  maxDepth: def('request.max_body_depth'),
  maxKeys: def('request.max_body_keys'),
  maxElements: def('request.max_body_elements'),
  duplicateKeys: 'deny',
};

/** An OpenAI chat completion of about 1 KB: a system and a user message, escapes in the text. */
function chat1k(): string {
  return JSON.stringify({
    model: 'meta-llama/Llama-3.1-8B-Instruct',
    messages: [
      { role: 'system', content: 'You are a careful assistant for the fraud team.\nAnswer briefly; cite the "case id" when you have one.' },
      {
        role: 'user',
        content:
          'Summarise the last three transactions of account 4711 and say whether any looks like the pattern in case FR-2231: a small "test" payment followed within minutes by a large transfer to a new payee. '.repeat(
            4,
          ),
      },
    ],
    temperature: 0.2,
    max_tokens: 512,
    stream: false,
  });
}

/** An OpenAI chat completion with tool schemas and history, about 16 KB. */
function chatTools16k(): string {
  const tool = (i: number) => ({
    type: 'function',
    function: {
      name: `lookup_${i}`,
      description: `Looks up record kind ${i} by id and returns its fields as JSON.`,
      parameters: {
        type: 'object',
        properties: {
          id: { type: 'string', description: 'The record id' },
          fields: { type: 'array', items: { type: 'string', enum: ['amount', 'payee', 'time', 'channel'] } },
          filter: { type: 'object', properties: { since: { type: 'string', format: 'date-time' }, limit: { type: 'integer', minimum: 1, maximum: 100 } } },
        },
        required: ['id'],
      },
    },
  });
  const messages = [];
  for (let i = 0; i < 24; i++) {
    messages.push({ role: i % 2 ? 'assistant' : 'user', content: `Turn ${i}: "quoted" text with a newline\nand a tab\tin it, about a line long.` });
  }
  return JSON.stringify({ model: 'gpt-4o', messages, tools: Array.from({ length: 20 }, (_, i) => tool(i)), tool_choice: 'auto', temperature: 0 });
}

/** A KServe v2 inference request with one FP32 tensor of about `bytes`. */
function tensor(bytes: number): string {
  const values: string[] = [];
  let size = 120;
  for (let i = 0; size < bytes; i++) {
    const s = (((i * 7919) % 100000) / 100000 - 0.5).toFixed(6);
    values.push(s);
    size += s.length + 1;
  }
  return `{"id":"bench","inputs":[{"name":"input-0","shape":[1,${values.length}],"datatype":"FP32","data":[${values.join(',')}]}]}`;
}

/**
 * CPU time per call (process.cpuUsage: steadier than wall time on a shared
 * machine) of each contender, measured in alternating rounds so that load
 * changes hit all of them alike; the median round is printed.
 */
function compare(contenders: ReadonlyArray<readonly [string, () => unknown]>, rounds = 9): number[] {
  const samples: number[][] = contenders.map(() => []);
  for (const [, fn] of contenders) for (let w = 0; w < 3; w++) fn();
  for (let r = 0; r < rounds; r++) {
    contenders.forEach(([, fn], k) => {
      let calls = 0;
      const wallEnd = performance.now() + MS / rounds;
      const cpu0 = process.cpuUsage();
      do {
        fn();
        calls++;
      } while (performance.now() < wallEnd);
      const cpu = process.cpuUsage(cpu0);
      samples[k]!.push((cpu.user + cpu.system) / calls);
    });
  }
  return contenders.map(([label], k) => {
    const sorted = samples[k]!.sort((a, b) => a - b);
    const us = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`  ${label.padEnd(28)} ${us.toFixed(us < 10 ? 2 : 1).padStart(10)} us CPU`);
    return us;
  });
}

function refused(fn: () => unknown): string {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    return (err as { reason?: string }).reason ?? (err as Error).message;
  }
}

console.log(
  `limits: max_body_depth ${LIMITS.maxDepth}, max_body_keys ${LIMITS.maxKeys}, max_body_elements ${LIMITS.maxElements}, duplicates ${LIMITS.duplicateKeys}; node ${process.version}`,
);
const bodies: Array<[string, string]> = [
  ['chat 1 KB', chat1k()],
  ['chat + tools 16 KB', chatTools16k()],
  ['tensor 16 KB', tensor(16 * 1024)],
  ['tensor 1 MB', tensor(1024 * 1024)],
  // A number a double does not carry: parsed with the reviver that keeps its text.
  ['chat 1 KB + 20-digit id', chat1k().replace('{', '{"user_id":12345678901234567891,')],
  ['chat + tools 16 KB + 20-digit id', chatTools16k().replace('{', '{"user_id":12345678901234567891,')],
];
for (const [name, text] of bodies) {
  console.log(`${name}: ${text.length} chars, ${text.match(/":/g)?.length ?? 0} keys`);
  const [before, after] = compare([
    ['JSON.parse', () => JSON.parse(text)],
    ['parseJsonBody', () => parseJsonBody(text, LIMITS)],
    ['parseJsonBody, keys "last"', () => parseJsonBody(text, { ...LIMITS, duplicateKeys: 'last' })],
  ]);
  console.log(`  ratio ${(after! / before!).toFixed(2)}`);
}

console.log('hostile bodies (refused):');
const deep = '['.repeat(5000) + ']'.repeat(5000);
const deepObj = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
const manyKeys = `{${Array.from({ length: 1_000_000 }, (_, i) => `"k${i}":1`).join(',')}}`;
const unbounded: JsonBodyLimits = { ...LIMITS, maxKeys: 1e9 };
for (const [name, text, rounds] of [
  ['5,000 nested arrays', deep, 9],
  ['5,000 nested objects', deepObj, 9],
  [`1M keys (${(manyKeys.length / 1e6).toFixed(1)} MB)`, manyKeys, 3],
] as const) {
  console.log(`${name}: ${refused(() => parseJsonBody(text, LIMITS))}`);
  compare(
    [
      ['JSON.parse', () => JSON.parse(text)],
      ['parseJsonBody (refusal)', () => refused(() => parseJsonBody(text, LIMITS))],
    ],
    rounds,
  );
}
console.log('1M keys, no key bound:');
compare(
  [
    ['parseJsonBody, keys "deny"', () => parseJsonBody(manyKeys, unbounded)],
    ['parseJsonBody, keys "last"', () => parseJsonBody(manyKeys, { ...unbounded, duplicateKeys: 'last' })],
  ],
  3,
);
