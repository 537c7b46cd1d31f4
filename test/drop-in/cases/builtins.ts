// Builtin families: each policy computes one object of builtin results (one
// rule per key, so an error or undefined result loses only that key) from
// request headers and hands it back in dynamic_metadata. Every answer is
// deterministic: clocks are read only to compare with fixed times.
import type { DropInCase } from './types.ts';
import { get } from './request.ts';
import { rsaKey, ecKey, selfSignedCert, spkiPem, token } from '../../support/builtins-keys.ts';

/**
 * `exprs` are Rego expressions over a, b, c (the x-a, x-b, x-c headers, "" when
 * absent) and data.PKG; each request sets some of the headers. Each key in
 * `alone` becomes a policy of its own, `<id>_<key>`, with the same requests:
 * a builtin ztauthz refuses at load takes down only its own policy, and a
 * builtin error only its own answers.
 */
export function fnCases(
  id: string,
  about: string,
  exprs: Record<string, string>,
  requests: Record<string, Record<string, string>>,
  opts: { data?: unknown; alone?: string[]; group?: string } = {},
): DropInCase[] {
  const alone = opts.alone ?? [];
  for (const k of alone) if (!(k in exprs)) throw new Error(`${id}: alone key ${k} is not an expression`);
  const shared = Object.fromEntries(Object.entries(exprs).filter(([k]) => !alone.includes(k)));
  const out: DropInCase[] = [];
  if (Object.keys(shared).length > 0) out.push(fnCase(id, about, shared, requests, opts.data));
  for (const k of alone) out.push(fnCase(`${id}_${k}`, `${about}: ${exprs[k]}`, { [k]: exprs[k]! }, requests, opts.data));
  return opts.group ? out.map((c) => ({ ...c, group: opts.group! })) : out;
}

/** One policy computing every expression of `exprs` (see fnCases). */
function fnCase(id: string, about: string, exprs: Record<string, string>, requests: Record<string, Record<string, string>>, data?: unknown): DropInCase {
  return {
    id,
    about,
    decision: 'result',
    ...(data !== undefined ? { data } : {}),
    rego: `package PKG

h := input.attributes.request.http.headers
a := object.get(h, "x-a", "")
b := object.get(h, "x-b", "")
c := object.get(h, "x-c", "")
result := {"allowed": true, "dynamic_metadata": v}
xs := [to_number(x) | some x in split(a, ",")]
s1 := {x | some x in split(a, ","); x != ""}
s2 := {x | some x in split(b, ","); x != ""}
every_ok if {
  every x in split(a, ",") { count(x) < 2 }
}
default every_ok := false
now := ${T0} * 1000000000
print_ok if {
  print("checking", a)
}
${Object.entries(exprs)
  .map(([k, e]) => `v[${JSON.stringify(k)}] := ${e}`)
  .join('\n')}
`,
    requests: Object.entries(requests).map(([name, headers]) => ({ name, request: get('/b', headers) })),
  };
}

const rsa = rsaKey();
const ec = ecKey('P-256');
const rsaCert = selfSignedCert(rsa);
const ecCert = selfSignedCert(ec);
const T0 = 1767225600; // 2026-01-01T00:00:00Z
const claims = { iss: 'https://issuer.example', sub: 'alice', aud: 'api', nbf: T0 - 3600, exp: T0 + 3600, roles: ['admin'], big: 12345678901234567890 };
const hs = token({ alg: 'HS256', typ: 'JWT' }, claims, 's3cret');
const hsExpired = token({ alg: 'HS256', typ: 'JWT' }, { ...claims, exp: T0 - 60 }, 's3cret');
const hsOtherKey = token({ alg: 'HS256', typ: 'JWT' }, claims, 'other');
const rs = token({ alg: 'RS256', typ: 'JWT', kid: 'k1' }, claims, rsa.privateKey);
const es = token({ alg: 'ES256', typ: 'JWT' }, claims, ec.privateKey);
const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;

const CASES: DropInCase[] = [
  ...fnCases(
    'bi_strings',
    'strings: case, search, slicing, trimming, splitting',
    {
      upper: 'upper(a)',
      lower: 'lower(a)',
      contains: 'contains(a, b)',
      startswith: 'startswith(a, b)',
      endswith: 'endswith(a, b)',
      indexof: 'indexof(a, b)',
      indexof_n: 'indexof_n(a, b)',
      substring: 'substring(a, 1, 3)',
      substring_neg: 'substring(a, 2, -1)',
      split: 'split(a, ",")',
      concat: 'concat("|", split(a, ","))',
      replace: 'replace(a, "o", "0")',
      replace_n: 'strings.replace_n({"a": "1", "o": "0"}, a)',
      trim: 'trim(a, " ,")',
      trim_space: 'trim_space(a)',
      trim_left: 'trim_left(a, " H")',
      trim_prefix: 'trim_prefix(a, "He")',
      trim_suffix: 'trim_suffix(a, "ld")',
      reverse: 'strings.reverse(a)',
      count: 'strings.count(a, "l")',
      len: 'count(a)',
      any_prefix: 'strings.any_prefix_match([a], ["He", "x"])',
      any_suffix: 'strings.any_suffix_match(a, ["ld", "y"])',
    },
    {
      ascii: { 'x-a': 'Hello, World', 'x-b': 'o' },
      empty: { 'x-b': 'x' },
      unicode: { 'x-a': 'Zoë ☃ ünïcode, ok', 'x-b': 'ü' },
      padded: { 'x-a': '  padded, value  ', 'x-b': ' ' },
      commas: { 'x-a': 'a,b,,c', 'x-b': ',' },
      'empty-needle': { 'x-a': 'abc', 'x-b': '' },
    },
    { alone: ['indexof', 'indexof_n', 'count'] },
  ),
  ...fnCases(
    'bi_sprintf',
    'sprintf verbs and format_int',
    {
      v_string: 'sprintf("%v", [a])',
      v_number: 'sprintf("%v", [to_number(b)])',
      v_float: 'sprintf("%v", [to_number(b) / 3])',
      v_set: 'sprintf("%v", [{1, 2, 3}])',
      v_object: 'sprintf("%v", [{"k": [1, "x", null, true]}])',
      d: 'sprintf("%d", [to_number(b)])',
      pad: 'sprintf("%05d|%-4s|%x", [to_number(b), "ab", 255])',
      f2: 'sprintf("%.2f", [to_number(b) / 7])',
      q: 'sprintf("%q", [a])',
      s_many: 'sprintf("%s-%s", [a, b])',
      missing_arg: 'sprintf("%s %s", [a])',
      format_int_2: 'format_int(to_number(b), 2)',
      format_int_16: 'format_int(to_number(b), 16)',
      format_int_frac: 'format_int(to_number(b) + 0.9, 10)',
    },
    {
      small: { 'x-a': 'x', 'x-b': '42' },
      negative: { 'x-a': 'neg', 'x-b': '-17' },
      big: { 'x-a': 'big', 'x-b': '12345678901234567890' },
      float: { 'x-a': 'f', 'x-b': '3.5' },
      exp: { 'x-a': 'e', 'x-b': '1e21' },
      quote: { 'x-a': 'say "hi"\t', 'x-b': '0' },
    },
    { alone: ['v_set', 'v_object', 'missing_arg', 'pad', 'f2', 'q', 'format_int_2', 'format_int_16', 'format_int_frac'] },
  ),
  ...fnCases(
    'bi_numbers',
    'arithmetic, rounding, big integers, ranges, bits',
    {
      sum: 'to_number(a) + to_number(b)',
      product: 'to_number(a) * to_number(b)',
      diff: 'to_number(a) - to_number(b)',
      quotient: 'to_number(a) / to_number(b)',
      rem: 'to_number(a) % to_number(b)',
      abs: 'abs(to_number(b))',
      round: 'round(to_number(a) / 4)',
      ceil: 'ceil(to_number(a) / 4)',
      floor: 'floor(to_number(a) / 4)',
      eq_float: 'to_number(a) == to_number(a) * 1.0',
      cmp: 'to_number(a) < to_number(b)',
      range: 'numbers.range(0, min([to_number(b), 5]))',
      range_step: 'numbers.range_step(0, 10, 3)',
      bits_and: 'bits.and(to_number(a), 6)',
      bits_or: 'bits.or(to_number(a), 1)',
      bits_lsh: 'bits.lsh(to_number(b), 40)',
      as_string: 'sprintf("%v", [to_number(a) * to_number(b)])',
      json: 'json.marshal([to_number(a), to_number(b), to_number(a) * to_number(b)])',
    },
    {
      small: { 'x-a': '10', 'x-b': '3' },
      negative: { 'x-a': '-7', 'x-b': '2' },
      zero: { 'x-a': '5', 'x-b': '0' },
      float: { 'x-a': '2.5', 'x-b': '0.1' },
      big: { 'x-a': '9007199254740993', 'x-b': '2' },
      huge: { 'x-a': '12345678901234567890', 'x-b': '98765432109876543210' },
    },
    { alone: ['as_string', 'bits_and', 'range_step'] },
  ),
  ...fnCases(
    'bi_aggregates',
    'count, sum, product, max, min, sort over arrays and sets',
    {
      count: 'count(xs)',
      sum: 'sum(xs)',
      product: 'product(xs)',
      max: 'max(xs)',
      min: 'min(xs)',
      sort: 'sort(xs)',
      set_sum: 'sum({x | some x in xs})',
      sort_strings: 'sort(split(a, ","))',
      max_strings: 'max(split(a, ","))',
      count_set: 'count({x | some x in split(a, ",")})',
    },
    {
      ints: { 'x-a': '3,1,2,3' },
      floats: { 'x-a': '1.5,2.25,-1' },
      single: { 'x-a': '7' },
      words: { 'x-a': 'pear,apple,Zebra,apple' },
    },
  ),
  ...fnCases(
    'bi_collections',
    'sets, arrays and objects',
    {
      union: 'sort(s1 | s2)',
      intersection: 'sort(s1 & s2)',
      difference: 'sort(s1 - s2)',
      union_fn: 'sort(union({s1, s2}))',
      intersection_fn: 'sort(intersection({s1, s2}))',
      concat: 'array.concat(split(a, ","), split(b, ","))',
      slice: 'array.slice(split(a, ","), 1, 3)',
      reverse: 'array.reverse(split(a, ","))',
      in: '"x" in s1',
      obj_union: 'object.union({"a": 1, "n": {"x": 1}}, {"b": 2, "n": {"y": 2}})',
      obj_union_n: 'object.union_n([{"a": 1}, {"a": 2, "b": 3}])',
      obj_remove: 'object.remove({"a": 1, "b": 2, "c": 3}, split(b, ","))',
      obj_filter: 'object.filter({"a": 1, "b": 2, "c": 3}, split(a, ","))',
      obj_get_path: 'object.get({"a": {"b": {"c": 1}}}, ["a", "b", "c"], "none")',
      obj_keys: 'sort(object.keys({"z": 1, "a": 2}))',
      obj_subset: 'object.subset({"a": 1, "b": {"c": 2}}, {"b": {"c": 2}})',
      json_filter: 'json.filter({"a": {"b": 1, "c": 2}, "d": 3}, ["a/b", "d"])',
      json_remove: 'json.remove({"a": {"b": 1, "c": 2}, "d": 3}, ["a/b"])',
      json_patch: 'json.patch({"a": 1}, [{"op": "add", "path": "/b", "value": 2}, {"op": "replace", "path": "/a", "value": 0}])',
      comprehension: '{k: n | some k in split(a, ","); n := count(k)}',
      every: 'every_ok',
      walk_count: 'count([p | walk({"a": [1, {"b": 2}]}, [p, _])])',
    },
    {
      overlap: { 'x-a': 'x,y,z', 'x-b': 'y,w' },
      disjoint: { 'x-a': 'a,b', 'x-b': 'c' },
      empty: { 'x-a': '', 'x-b': '' },
      same: { 'x-a': 'b,c', 'x-b': 'b,c' },
    },
    { alone: ['json_patch', 'obj_subset'] },
  ),
  ...fnCases(
    'bi_regex',
    'regex.* on values and patterns from the request',
    {
      match: 'regex.match(b, a)',
      is_valid: 'regex.is_valid(b)',
      find_n: 'regex.find_n(b, a, -1)',
      split: 'regex.split(b, a)',
      replace: 'regex.replace(a, b, "<$0>")',
      submatch: 'regex.find_all_string_submatch_n(b, a, -1)',
      template: 'regex.template_match("urn:foo:{.*}", a, "{", "}")',
      globs: 'regex.globs_match("a.*", "a.b")',
    },
    {
      digits: { 'x-a': 'order 42 and 7', 'x-b': '[0-9]+' },
      anchored: { 'x-a': 'abc', 'x-b': '^a.c$' },
      groups: { 'x-a': 'k1=v1;k2=v2', 'x-b': '(\\w+)=(\\w+)' },
      unicode: { 'x-a': 'Zoë Zoé', 'x-b': 'Zo.' },
      invalid: { 'x-a': 'abc', 'x-b': '(' },
      empty: { 'x-a': '', 'x-b': 'x*' },
      urn: { 'x-a': 'urn:foo:bar', 'x-b': 'bar' },
      'case-flag': { 'x-a': 'ABC', 'x-b': '(?i)abc' },
      lookahead: { 'x-a': 'abc', 'x-b': 'a(?=b)' },
    },
    { alone: ['split', 'find_n', 'replace', 'template', 'globs'] },
  ),
  ...fnCases(
    'bi_glob',
    'glob.match with delimiters, quote_meta',
    {
      dots: 'glob.match(b, ["."], a)',
      default_delims: 'glob.match(b, [], a)',
      null_delims: 'glob.match(b, null, a)',
      slash: 'glob.match(b, ["/"], a)',
      quote: 'glob.quote_meta(a)',
    },
    {
      star: { 'x-a': 'api.example.com', 'x-b': '*.example.com' },
      'star-deep': { 'x-a': 'a.b.example.com', 'x-b': '*.example.com' },
      super: { 'x-a': 'a.b.example.com', 'x-b': '**.example.com' },
      class: { 'x-a': 'cat', 'x-b': '[cb]at' },
      alt: { 'x-a': 'cat', 'x-b': '{cat,dog}' },
      path: { 'x-a': '/v1/users/42', 'x-b': '/v1/*/42' },
      question: { 'x-a': 'ab', 'x-b': 'a?' },
      invalid: { 'x-a': 'x', 'x-b': '[' },
      meta: { 'x-a': '*.{a}[b]?', 'x-b': '*' },
    },
    { alone: ['quote'] },
  ),
  ...fnCases(
    'bi_encoding',
    'base64, base64url, hex, json, yaml',
    {
      b64: 'base64.encode(a)',
      b64_decode: 'base64.decode(b)',
      b64_valid: 'base64.is_valid(b)',
      b64url: 'base64url.encode(a)',
      b64url_nopad: 'base64url.encode_no_pad(a)',
      b64url_decode: 'base64url.decode(b)',
      hex: 'hex.encode(a)',
      hex_decode: 'hex.decode(c)',
      json_valid: 'json.is_valid(a)',
      json_unmarshal: 'json.unmarshal(a)',
      json_marshal: 'json.marshal({"b": [1, 2.5, "x"], "a": null, "c": {"z": true}})',
      json_indent: 'json.marshal_with_options({"b": 1, "a": [1]}, {"pretty": true, "indent": "  "})',
      yaml_valid: 'yaml.is_valid(a)',
      yaml_unmarshal: 'yaml.unmarshal(a)',
      yaml_marshal: 'yaml.marshal({"b": [1, "x"], "a": {"c": true}})',
    },
    {
      text: { 'x-a': 'hello world', 'x-b': 'aGVsbG8=', 'x-c': '6869' },
      json: { 'x-a': '{"k":[1,2,{"n":null}]}', 'x-b': 'eyJrIjoxfQ', 'x-c': 'zz' },
      'json-number': { 'x-a': '12345678901234567890', 'x-b': '!!', 'x-c': '' },
      yaml: { 'x-a': 'k: [1, two]', 'x-b': 'a-_b', 'x-c': 'ABCD' },
      unicode: { 'x-a': 'Zoë', 'x-b': 'Wm/DqwÅ', 'x-c': 'c3a9' },
      empty: {},
    },
    { alone: ['b64_valid', 'b64_decode', 'b64url_decode', 'hex_decode', 'json_marshal', 'yaml_marshal', 'json_indent'] },
  ),
  ...fnCases(
    'bi_urlquery',
    'urlquery encode and decode',
    {
      encode: 'urlquery.encode(a)',
      decode: 'urlquery.decode(b)',
      encode_object: 'urlquery.encode_object({"q": a, "list": ["x y", "z"], "set": {"s"}})',
      decode_object: 'urlquery.decode_object(b)',
    },
    {
      plain: { 'x-a': 'a b&c=d/é', 'x-b': 'a%20b+c' },
      query: { 'x-a': '', 'x-b': 'x=1&y=2&x=3' },
      'bad-escape': { 'x-a': '%', 'x-b': '%zz' },
      unicode: { 'x-a': 'ünï', 'x-b': '%C3%BC' },
    },
  ),
  ...fnCases(
    'bi_crypto',
    'hashes and HMACs',
    {
      md5: 'crypto.md5(a)',
      sha1: 'crypto.sha1(a)',
      sha256: 'crypto.sha256(a)',
      hmac_md5: 'crypto.hmac.md5(a, b)',
      hmac_sha1: 'crypto.hmac.sha1(a, b)',
      hmac_sha256: 'crypto.hmac.sha256(a, b)',
      hmac_sha512: 'crypto.hmac.sha512(a, b)',
      hmac_equal: 'crypto.hmac.equal(crypto.hmac.sha256(a, b), c)',
    },
    {
      text: { 'x-a': 'message', 'x-b': 'key', 'x-c': '6e9ef29b75fffc5b7abae527d58fdadb2fe42e7219011976917343065f58ed4a' },
      empty: { 'x-c': 'x' },
      unicode: { 'x-a': 'Zoë ☃', 'x-b': 'ключ', 'x-c': '' },
    },
  ),
  ...fnCases(
    'bi_x509',
    'crypto.x509 certificate parsing and chain verification',
    {
      parse_count: 'count(crypto.x509.parse_certificates(data.PKG.certs[a]))',
      subject: 'crypto.x509.parse_certificates(data.PKG.certs[a])[0].Subject.CommonName',
      not_after: 'crypto.x509.parse_certificates(data.PKG.certs[a])[0].NotAfter',
      serial: 'crypto.x509.parse_certificates(data.PKG.certs[a])[0].SerialNumber',
      verify: 'crypto.x509.parse_and_verify_certificates(data.PKG.certs[a])[0]',
      key_pem_keys: 'count(crypto.parse_private_keys(data.PKG.rsa_key))',
    },
    { rsa: { 'x-a': 'rsa_cert' }, ec: { 'x-a': 'ec_cert' }, garbage: { 'x-a': 'garbage' }, missing: { 'x-a': 'nope' } },
    {
      data: {
        certs: { rsa_cert: rsaCert, ec_cert: ecCert, garbage: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n' },
        rsa_key: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      },
      alone: ['verify', 'key_pem_keys'],
    },
  ),
  ...fnCases(
    'bi_jwt_decode',
    'io.jwt.decode of tokens from the request',
    {
      header: 'io.jwt.decode(a)[0]',
      payload: 'io.jwt.decode(a)[1]',
      sig: 'io.jwt.decode(a)[2]',
      sub: 'io.jwt.decode(a)[1].sub',
      big: 'sprintf("%v", [io.jwt.decode(a)[1].big])',
    },
    {
      hs: { 'x-a': hs },
      rs: { 'x-a': rs },
      none: { 'x-a': none },
      garbage: { 'x-a': 'not.a.jwt' },
      empty: {},
      'two-parts': { 'x-a': 'eyJhbGciOiJIUzI1NiJ9.e30' },
    },
  ),
  ...fnCases(
    'bi_jwt_verify',
    'io.jwt.verify_* and decode_verify with fixed times',
    {
      verify_hs256: 'io.jwt.verify_hs256(a, "s3cret")',
      verify_rs256_cert: 'io.jwt.verify_rs256(a, data.PKG.rsa_cert)',
      verify_rs256_key: 'io.jwt.verify_rs256(a, data.PKG.rsa_pub)',
      verify_es256: 'io.jwt.verify_es256(a, data.PKG.ec_cert)',
      dv_hs: 'io.jwt.decode_verify(a, {"secret": "s3cret", "time": now})',
      dv_hs_aud: 'io.jwt.decode_verify(a, {"secret": "s3cret", "time": now, "aud": "api", "iss": "https://issuer.example"})',
      dv_hs_wrong_aud: 'io.jwt.decode_verify(a, {"secret": "s3cret", "time": now, "aud": "other"})[0]',
      dv_cert: 'io.jwt.decode_verify(a, {"cert": data.PKG.rsa_cert, "time": now})[0]',
      dv_alg: 'io.jwt.decode_verify(a, {"secret": "s3cret", "alg": "HS384", "time": now})[0]',
      dv_later: 'io.jwt.decode_verify(a, {"secret": "s3cret", "time": now + 7200000000000})[0]',
    },
    {
      hs: { 'x-a': hs },
      'hs-expired': { 'x-a': hsExpired },
      'hs-other-key': { 'x-a': hsOtherKey },
      rs: { 'x-a': rs },
      es: { 'x-a': es },
      none: { 'x-a': none },
      garbage: { 'x-a': 'x.y.z' },
    },
    // decode_verify makes ztauthz treat the whole policy as clock-reading (never cached): its own group keeps the main group's cache in play.
    { data: { rsa_cert: rsaCert, rsa_pub: spkiPem(rsa.publicKey), ec_cert: ecCert }, group: 'clock' },
  ),
  ...fnCases(
    'bi_net',
    'net.cidr_* on addresses from the request',
    {
      contains: 'net.cidr_contains(b, a)',
      contains_cidr: 'net.cidr_contains("10.0.0.0/8", b)',
      intersects: 'net.cidr_intersects(b, "10.1.0.0/16")',
      is_valid: 'net.cidr_is_valid(b)',
      matches: 'net.cidr_contains_matches(["10.0.0.0/8", "192.168.0.0/16"], [a])',
      merge: 'sort(net.cidr_merge(["10.0.0.0/25", "10.0.0.128/25", b]))',
      expand: 'count(net.cidr_expand("192.168.1.0/30"))',
    },
    {
      inside: { 'x-a': '10.1.2.3', 'x-b': '10.0.0.0/8' },
      outside: { 'x-a': '192.168.1.1', 'x-b': '10.0.0.0/8' },
      v6: { 'x-a': '2001:db8::1', 'x-b': '2001:db8::/32' },
      mixed: { 'x-a': '10.0.0.1', 'x-b': '2001:db8::/32' },
      invalid: { 'x-a': 'not-an-ip', 'x-b': '10.0.0.0/33' },
      host: { 'x-a': '10.1.2.3', 'x-b': '10.1.2.3/32' },
    },
    { alone: ['is_valid', 'matches', 'merge', 'expand'] },
  ),
  ...fnCases(
    'bi_time',
    'time.* on fixed instants',
    {
      parse_rfc3339: 'time.parse_rfc3339_ns(a)',
      date: 'time.date(time.parse_rfc3339_ns(a))',
      clock: 'time.clock(time.parse_rfc3339_ns(a))',
      weekday: 'time.weekday(time.parse_rfc3339_ns(a))',
      date_tz: 'time.date([time.parse_rfc3339_ns(a), "America/New_York"])',
      clock_tz: 'time.clock([time.parse_rfc3339_ns(a), "Asia/Kolkata"])',
      add_date: 'time.add_date(time.parse_rfc3339_ns(a), 0, 1, 1)',
      diff: 'time.diff(time.parse_rfc3339_ns(a), time.parse_rfc3339_ns("2020-02-29T12:00:00Z"))',
      format: 'time.format(time.parse_rfc3339_ns(a))',
      format_layout: 'time.format([time.parse_rfc3339_ns(a), "UTC", "2006-01-02 15:04"])',
      parse_ns: 'time.parse_ns("2006-01-02", b)',
      duration: 'time.parse_duration_ns(c)',
      now_after_2020: 'time.now_ns() > time.parse_rfc3339_ns("2020-01-01T00:00:00Z")',
    },
    {
      utc: { 'x-a': '2026-01-01T00:00:00Z', 'x-b': '2026-03-04', 'x-c': '1h30m' },
      offset: { 'x-a': '2024-02-29T23:59:59.123456789+05:30', 'x-b': '1999-12-31', 'x-c': '250ms' },
      epoch: { 'x-a': '1970-01-01T00:00:00Z', 'x-b': 'bad', 'x-c': '-1.5h' },
      invalid: { 'x-a': 'yesterday', 'x-b': '2026-13-01', 'x-c': '1d' },
      far: { 'x-a': '2262-04-11T23:47:16Z', 'x-b': '2262-04-12', 'x-c': '2562047h' },
    },
    { alone: ['format', 'format_layout', 'parse_ns'], group: 'clock' },
  ),
  ...fnCases(
    'bi_units_semver',
    'units.parse, units.parse_bytes, semver',
    {
      bytes: 'units.parse_bytes(a)',
      units: 'units.parse(a)',
      semver_valid: 'semver.is_valid(b)',
      semver_cmp: 'semver.compare(b, "1.2.3")',
    },
    {
      kib: { 'x-a': '10KiB', 'x-b': '1.2.3' },
      kb: { 'x-a': '10KB', 'x-b': '1.10.0' },
      milli: { 'x-a': '250m', 'x-b': '1.2.3-alpha.1' },
      plain: { 'x-a': '42', 'x-b': 'v1.2.3' },
      fraction: { 'x-a': '1.5Gi', 'x-b': '2.0.0+build.5' },
      invalid: { 'x-a': 'lots', 'x-b': '1.2' },
    },
    { alone: ['bytes', 'units', 'semver_valid', 'semver_cmp'] },
  ),
  ...fnCases(
    'bi_types',
    'type checks and conversions',
    {
      type_name: 'type_name(json.unmarshal(a))',
      is_number: 'is_number(json.unmarshal(a))',
      is_string: 'is_string(json.unmarshal(a))',
      is_array: 'is_array(json.unmarshal(a))',
      is_object: 'is_object(json.unmarshal(a))',
      is_null: 'is_null(json.unmarshal(a))',
      to_number: 'to_number(b)',
      to_number_bool: 'to_number(true)',
      cast_equal: '1 == 1.0',
    },
    {
      number: { 'x-a': '1.50', 'x-b': '007' },
      string: { 'x-a': '"s"', 'x-b': '-0' },
      array: { 'x-a': '[1]', 'x-b': '1e2' },
      object: { 'x-a': '{}', 'x-b': '0x10' },
      null: { 'x-a': 'null', 'x-b': ' 1' },
    },
  ),
  ...fnCases(
    'bi_uuid_graphql',
    'uuid.rfc4122 (shape only), uuid.parse, graphql',
    {
      uuid_len: 'count(uuid.rfc4122(a))',
      uuid_same: 'uuid.rfc4122(a) == uuid.rfc4122(a)',
      uuid_parse: 'uuid.parse(b)',
      gql_valid: 'graphql.is_valid(c, data.PKG.schema)',
      gql_schema_valid: 'graphql.schema_is_valid(data.PKG.schema)',
      gql_parse: 'graphql.parse_query(c)',
    },
    {
      ok: { 'x-a': 'seed', 'x-b': '00000000-0000-4000-8000-000000000000', 'x-c': '{ user(id: 1) { name } }' },
      bad: { 'x-a': '', 'x-b': 'not-a-uuid', 'x-c': '{ nope }' },
      v1: { 'x-a': 'x', 'x-b': 'c232ab00-9414-11ec-b3c8-9f6bdeced846', 'x-c': 'query { user(id: 2) { id name } }' },
    },
    {
      data: { schema: 'type Query { user(id: Int!): User }\ntype User { id: Int name: String }\n' },
      alone: ['uuid_len', 'uuid_same', 'uuid_parse', 'gql_valid', 'gql_schema_valid', 'gql_parse'],
    },
  ),
  ...fnCases(
    'bi_misc',
    'object.get defaults, with-less helpers, print, strings.render_template, json.verify_schema',
    {
      render: 'strings.render_template("hi {{.name}}", {"name": a})',
      schema_ok: 'json.verify_schema({"type": "object", "required": ["a"]})',
      match_schema: 'json.match_schema(json.unmarshal(b), {"type": "object", "required": ["a"]})[0]',
      printed: 'print_ok',
      rego_parse: 'count(rego.parse_module("x.rego", "package x\\np := 1").rules)',
    },
    { one: { 'x-a': 'alice', 'x-b': '{"a":1}' }, two: { 'x-a': '', 'x-b': '{}' } },
    { alone: ['render', 'schema_ok', 'match_schema', 'rego_parse'] },
  ),
  {
    id: 'bi_http_send',
    about: 'http.send to a closed local port, raise_error false',
    // A policy that imports http.send is not cached (like a clock-reading one), so not in the main group.
    group: 'clock',
    decision: 'result',
    rego: `package PKG

resp := http.send({"method": "GET", "url": "http://127.0.0.1:1/", "raise_error": false, "timeout": "1s"})
result := {"allowed": resp.status_code == 200, "dynamic_metadata": {"status": resp.status_code}}
`,
    requests: [
      { name: 'closed-port', request: get('/h') },
      { name: 'again', request: get('/h2') },
    ],
  },
];

/**
 * Policies that draw random numbers or verify certificates against the clock
 * are not cached by ztauthz (like clock readers), and one such case in a
 * group's bundle would leave the whole group uncached: they run in the clock
 * group, so the main group keeps testing cached answers.
 */
const UNCACHED = /\b(uuid\.rfc4122|rand\.intn|crypto\.x509\.parse_and_verify_certificates)\(/;
export const BUILTIN_CASES: DropInCase[] = CASES.map((c) => (c.group === undefined && UNCACHED.test(c.rego) ? { ...c, group: 'clock' } : c));
