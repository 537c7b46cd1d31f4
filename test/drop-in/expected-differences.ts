// Where ztauthz is known NOT to answer as opa-envoy-plugin v1.19.1-envoy does.
// differential.test.ts fails when an unlisted pair differs, when a listed pair
// answers the same (a fix: remove its entry), and when a global difference no
// longer matters anywhere (remove it too).
import type { Answer } from './harness.ts';

export interface GlobalDifference {
  readonly id: string;
  readonly reason: string;
  /** Removes this difference from an answer (applied to both sides alike). */
  setAside(a: Answer): Answer;
}

/**
 * Differences in how every answer of a kind is encoded, which would otherwise
 * be listed under most pairs. Each is its own finding (see the reasons).
 * None are left: with compat: opa-envoy ztauthz encodes answers as
 * opa-envoy-plugin does (gRPC UNKNOWN for policy errors, no proto3 empty
 * strings, no ok_response for a boolean allow, no denied_response for a
 * boolean deny, no reason code in status.message); see
 * docs/compatibility.md for what the default mode keeps.
 */
export const GLOBAL_DIFFERENCES: readonly GlobalDifference[] = [];

const REFUSED: Record<string, string> = {
  bi_misc_rego_parse: 'rego.parse_module',
};
const refusedEntries = Object.fromEntries(
  Object.entries(REFUSED).map(([id, b]) => [
    `${id}/*`,
    `Refused at load: "policy uses builtins ztauthz does not provide: ${b}". opa build -t wasm leaves ${b.split(' ')[0]} to the host, and neither opa-wasm's JS builtins nor src/policy/builtins/ implement it; opa-envoy-plugin evaluates it. Fix: a host implementation in src/policy/builtins/ (tested against opa eval).`,
  ]),
);

const BUILTIN_ERROR =
  'A builtin error in a builtin OPA compiles into the wasm: opa-envoy-plugin (topdown, non-strict builtin errors) makes the failing expression undefined and evaluates on; the wasm aborts the whole evaluation (gRPC error under compat, 403 by default). Host builtins (src/policy/builtins) are undefined on error as in OPA since policy.strict_builtin_errors was added; the native wasm ones cannot be reached from the host.';
const WASM_DIVISION =
  'Division in the wasm is float64 where OPA divides exactly (big numbers): sprintf itself is Go\'s fmt on OPA\'s argument types (src/policy/builtins/sprintf.ts, answering in place of opa-wasm\'s sprintf-js), but the quotient it is given differs: ';
const BASE64_WASM = 'base64 in the wasm (OPA\'s native wasm builtins, not src/policy/builtins) is lenient where Go is strict: ';
const BAD_UTF8 =
  'A builtin produced bytes that are not UTF-8 (base64url.decode / hex.decode of arbitrary bytes) and the policy returned them in dynamic_metadata: opa-envoy-plugin fails the check (gRPC UNKNOWN "proto: invalid UTF-8 in string"), ztauthz sends the string with U+FFFD replacement characters (the wasm result is decoded lossily as UTF-8).';


/**
 * Pair by pair: `<case id>/<request name>`, `<case id>/*` for every pair of a
 * case, and `cache:<case id>/<request name>` where ztauthz with its decision
 * cache on answers otherwise than with it off.
 */
export const EXPECTED_DIFFERENCES: Readonly<Record<string, string>> = {
  // --- body ---
  'in_parsed_body_json/duplicate-keys':
    'Deliberate (safety): a JSON body with a key twice in one object. opa-envoy-plugin decides on the last value (Go encoding/json), ztauthz refuses it 400 body_duplicate_key, since a backend that keeps the first would serve what was not authorized. request.body_duplicate_keys: last restores last-wins.',
  'edge_bodies/json-deep':
    'Deliberate (safety): a JSON body nested deeper than request.max_body_depth (64). ztauthz refuses it 400 body_too_deep before parsing; opa-envoy-plugin fails the Check itself with gRPC INTERNAL "Response message parsing error: maximum nesting depth exceeded" (its result cannot be encoded), which an Envoy with failure_mode_allow lets through.',
  // --- result ---
  // --- builtins: refused at load ---
  ...refusedEntries,
  // --- builtins: errors ---
  'bi_sprintf_format_int_2/big': BUILTIN_ERROR + ' Here format_int on 12345678901234567890 (native wasm: "strings: get uint failed"), which opa formats exactly.',
  'bi_sprintf_format_int_2/exp': BUILTIN_ERROR + ' Here format_int(1e21, 2): "strings: get uint failed".',
  'bi_sprintf_format_int_16/big': BUILTIN_ERROR + ' Here format_int(12345678901234567890, 16).',
  'bi_sprintf_format_int_16/exp': BUILTIN_ERROR + ' Here format_int(1e21, 16).',
  'bi_sprintf_format_int_frac/big': BUILTIN_ERROR + ' Here format_int(12345678901234567890 + 0.9, 10).',
  'bi_sprintf_format_int_frac/exp': BUILTIN_ERROR + ' Here format_int(1e21 + 0.9, 10).',
  // --- builtins: other results ---
  'bi_time_format/offset':
    'time.format of a nanosecond time beyond 2^53 (2024-02-29T18:29:59.123456789Z): opa-wasm hands host builtins their arguments as JSON-decoded JavaScript numbers, so the ns value arrives rounded (…123456768Z). Host builtins return exact int64 results (util.ts exactInt), but arguments are not yet read exactly.',
  'bi_sprintf/big': WASM_DIVISION + '12345678901234567890 / 3 is 4115226300411522630 in opa, the double 4.1152263004115226e+18 in the wasm (so %v prints a float).',
  'bi_sprintf/exp': WASM_DIVISION + '1e21 / 3 is the integer 333333333333333333340 in opa (big.Float rounded to an integer), the double 3.333333333333333e+20 in the wasm.',
  'bi_sprintf_f2/exp': WASM_DIVISION + '1e21 / 7 is an integer in opa, so %.2f prints "%!f(big.Int=142857142857142857144)"; in the wasm a double, printed 142857142857142861824.00.',
  'bi_types/number':
    'to_number("007"): the wasm keeps the number as its source text "007", which is not JSON, so reading the result fails ("Unexpected number in JSON") and the check fails with a gRPC error; opa gives 7. The wasm writes the number in its source form and opa-wasm JSON.parses the wasm\'s JSON text (node_modules/@open-policy-agent/opa-wasm/src/opa.js); ztauthz must canonicalise such numbers (or to_number must be a host builtin).',
  'bi_encoding_b64_valid/json': BASE64_WASM + 'base64.is_valid("eyJrIjoxfQ") (no padding) is true in ztauthz, false in opa.',
  'bi_encoding_b64_valid/yaml': BASE64_WASM + 'base64.is_valid("a-_b") (URL alphabet) is true in ztauthz, false in opa.',
  'bi_encoding_b64_valid/unicode': BASE64_WASM + 'base64.is_valid("Wm/DqwÅ") (a non-alphabet character) is true in ztauthz, false in opa.',
  'bi_encoding_b64_valid/empty': BASE64_WASM + 'base64.is_valid("") is false in ztauthz, true in opa.',
  'bi_encoding_b64_decode/json': BASE64_WASM + 'base64.decode of unpadded input succeeds in ztauthz, is an error (undefined) in opa.',
  'bi_encoding_b64_decode/yaml': BASE64_WASM + 'base64.decode("a-_b") succeeds in ztauthz, is an error (undefined) in opa.',
  'bi_encoding_b64_decode/unicode': BASE64_WASM + 'base64.decode skips the non-alphabet "Å" in ztauthz, is an error (undefined) in opa.',
  'bi_encoding_b64_decode/empty': BASE64_WASM + 'base64.decode("") is undefined in ztauthz, "" in opa.',
  'bi_encoding_b64url_decode/empty': BASE64_WASM + 'base64url.decode("") is undefined in ztauthz, "" in opa.',
  'bi_encoding_b64url_decode/yaml': BAD_UTF8,
  'bi_encoding_hex_decode/yaml': BAD_UTF8,
  'bi_encoding_json_marshal/*':
    'json.marshal of an object literal: opa writes keys sorted ({"a":…,"b":…,"c":…}), ztauthz in reverse order of the literal ({"c":…,"b":…,"a":…}). Anything hashed, compared or signed over json.marshal differs. Likely cause (not yet confirmed): OPA\'s native wasm json.marshal writes objects in their hash-table order instead of sorting keys.',
  'bi_strings_indexof/empty-needle': 'indexof("abc", ""): opa gives undefined (an "empty search character" error, non-strict), ztauthz 0.',
};
