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
    `Refused at load, on purpose: "policy uses builtins ztauthz does not provide: ${b}". opa build -t wasm leaves ${b} to the host and its answer is OPA's own Rego AST, which only OPA's parser produces (docs/builtins.md#not-provided); opa-envoy-plugin evaluates it.`,
  ]),
);

const WASM_DIVISION =
  "Division in the wasm is float64 where OPA divides exactly (big numbers): sprintf itself is Go's fmt on OPA's argument types (src/policy/builtins/sprintf.ts, answering in place of opa-wasm's sprintf-js), but the quotient it is given differs: ";
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
  'bi_dropin_runtime_env/*':
    'Deliberate (safety): opa.runtime() answers {"env": {}, "config": {}} in ztauthz; opa-envoy-plugin answers its process environment (and configuration), which a policy must not read from ztauthz (its secrets). docs/builtins.md.',
  // --- builtins: other results ---
  'bi_sprintf/big': `${WASM_DIVISION}12345678901234567890 / 3 is 4115226300411522630 in opa, the double 4.1152263004115226e+18 in the wasm (so %v prints a float).`,
  'bi_sprintf/exp': `${WASM_DIVISION}1e21 / 3 is the integer 333333333333333333340 in opa (big.Float rounded to an integer), the double 3.333333333333333e+20 in the wasm.`,
  'bi_sprintf_f2/exp':
    WASM_DIVISION +
    '1e21 / 7 is an integer in opa, so %.2f prints "%!f(big.Int=142857142857142857144)"; in the wasm a double, printed 142857142857142861824.00.',
  'bi_encoding_b64url_decode/yaml': BAD_UTF8,
  'bi_encoding_hex_decode/yaml': BAD_UTF8,
};
