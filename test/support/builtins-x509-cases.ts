// Certificates for the crypto.x509.* differential cases, made with openssl.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Case } from './builtins-opa.ts';
import { rego } from './builtins-opa.ts';
import { dyn } from './builtins-cases.ts';
import { Pki } from './pki.ts';

const HOUR = 3600_000;

function selfSigned(pki: Pki, name: string, keyArgs: string[], extra: string[], sigopts: string[] = []): string {
  const dir = pki.dir;
  execFileSync('openssl', ['genpkey', ...keyArgs, '-out', `${name}.key`], { cwd: dir, stdio: 'pipe' });
  execFileSync(
    'openssl',
    [
      'req',
      '-new',
      '-x509',
      '-key',
      `${name}.key`,
      '-days',
      '3',
      '-out',
      `${name}.pem`,
      '-subj',
      '/CN=x/O=A/O=B/OU=U/C=DE/L=Berlin/ST=BE/serialNumber=42',
      ...extra.flatMap((e) => ['-addext', e]),
      ...sigopts.flatMap((o) => (o.startsWith('-') ? [o] : ['-sigopt', o])),
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  return readFileSync(join(dir, `${name}.pem`), 'utf8');
}

export function x509Cases(): { cases: Case[]; cleanup: () => void } {
  const pki = new Pki();
  const root = pki.ca('td.example');
  const inter = pki.intermediate(root, 'inter.example');
  const leaf = pki.leaf(inter, {
    dns: ['api.example', '*.svc.example'],
    extra: [
      '1.2.3.4=ASN1:NULL',
      'certificatePolicies=1.2.3.4.5,2.23.140.1.2.1',
      'authorityInfoAccess=OCSP;URI:http://ocsp.example/,caIssuers;URI:http://ca.example/ca.crt',
      'crlDistributionPoints=URI:http://crl.example/a.crl',
    ],
  });
  const clientOnly = pki.leaf(inter, { extKeyUsage: 'clientAuth' });
  const expired = pki.leaf(inter, { notBefore: new Date(Date.now() - 48 * HOUR), notAfter: new Date(Date.now() - 24 * HOUR) });
  const direct = pki.leaf(root, {
    uris: ['spiffe://td.example/ns/a/sa/b', 'https://user@h.example:8443/p/a%20b?q=1#frag', 'urn:x:y', 'x:/omit/host', 'http://h/a%2Fb?#f%41'],
    keyUsage: null,
    extKeyUsage: null,
  });
  const other = pki.ca('other.example');
  const rsa = selfSigned(
    pki,
    'rsa',
    ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
    [
      'subjectAltName=IP:10.0.0.1,IP:::1,IP:::ffff:1.2.3.4,email:a@b.c',
      'keyUsage=digitalSignature,keyEncipherment,keyCertSign,decipherOnly',
      'extendedKeyUsage=serverAuth,codeSigning,1.2.3.4.5',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
    ],
  );
  const pss = selfSigned(pki, 'pss', ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:1024'], []);
  const pss256 = selfSigned(
    pki,
    'pss256',
    ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
    [],
    ['rsa_padding_mode:pss', 'rsa_pss_saltlen:32', 'rsa_mgf1_md:sha256', '-sha256'],
  );
  const pss384 = selfSigned(
    pki,
    'pss384',
    ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
    [],
    ['rsa_padding_mode:pss', 'rsa_pss_saltlen:20', 'rsa_mgf1_md:sha384', '-sha384'],
  );
  const ed = selfSigned(pki, 'ed', ['-algorithm', 'ED25519'], ['1.2.3.9=critical,ASN1:NULL']);
  const der = (pem: string): string => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64');
  const parse = (s: string): string => `crypto.x509.parse_certificates(${dyn(s)})`;
  const verify = (s: string): string => `crypto.x509.parse_and_verify_certificates(${dyn(s)})`;
  const cases: Case[] = [
    ...[leaf, clientOnly, expired, direct, root.pem, inter.pem, rsa, pss, pss256, pss384, ed].map((p, i) => ({ name: `parse ${i}`, expr: parse(p) })),
    { name: 'parse chain', expr: parse(root.pem + inter.pem + leaf) },
    { name: 'parse base64 pem', expr: parse(Buffer.from(leaf).toString('base64')) },
    { name: 'parse base64 der', expr: parse(der(leaf)) },
    { name: 'parse base64 der chain', expr: parse(Buffer.concat([Buffer.from(der(root.pem), 'base64'), Buffer.from(der(leaf), 'base64')]).toString('base64')) },
    { name: 'parse garbage', expr: parse('garbage') },
    { name: 'parse empty pem', expr: parse('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n') },
    { name: 'parse truncated', expr: parse(der(leaf).slice(0, 200)) },
    { name: 'parse type', expr: `crypto.x509.parse_certificates(${dyn(1)})` },
    { name: 'parse field', expr: `[c.Subject.Organization | some c in crypto.x509.parse_certificates(${rego(leaf)})]` },
    { name: 'verify chain', expr: verify(root.pem + inter.pem + leaf) },
    { name: 'verify direct', expr: verify(root.pem + direct) },
    { name: 'verify wrong order', expr: verify(leaf + inter.pem + root.pem) },
    { name: 'verify other root', expr: verify(other.pem + inter.pem + leaf) },
    { name: 'verify missing intermediate', expr: verify(root.pem + leaf) },
    { name: 'verify client only', expr: verify(root.pem + inter.pem + clientOnly) },
    { name: 'verify expired', expr: verify(root.pem + inter.pem + expired) },
    { name: 'verify one', expr: verify(leaf) },
    { name: 'verify garbage', expr: verify('garbage') },
    { name: 'verify self', expr: verify(rsa + rsa) },
  ];
  const key = (name: string, args: string[]): string => {
    execFileSync('openssl', [...args, '-out', name], { cwd: pki.dir, stdio: 'pipe' });
    return readFileSync(join(pki.dir, name), 'utf8');
  };
  const rsaKey = readFileSync(join(pki.dir, 'rsa.key'), 'utf8'); // PKCS#8
  const rsaPkcs1 = key('rsa1.key', ['pkey', '-in', 'rsa.key', '-traditional']);
  const ecKey = readFileSync(join(pki.dir, 'leaf.key'), 'utf8');
  const ecSec1 = key('ec1.key', ['ec', '-in', 'leaf.key']);
  const edKey = readFileSync(join(pki.dir, 'ed.key'), 'utf8');
  const keyDer = (pem: string): string => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64');
  for (const [n, k] of Object.entries({ rsaKey, rsaPkcs1, ecKey, ecSec1, edKey })) {
    cases.push({ name: `rsa jwk ${n}`, expr: `crypto.x509.parse_rsa_private_key(${dyn(k)})` });
    cases.push({ name: `private keys ${n}`, expr: `crypto.parse_private_keys(${dyn(k)})` });
  }
  cases.push(
    { name: 'private keys many', expr: `crypto.parse_private_keys(${dyn(rsaPkcs1 + leaf + ecSec1 + edKey)})` },
    { name: 'private keys base64', expr: `crypto.parse_private_keys(${dyn(Buffer.from(ecKey).toString('base64'))})` },
    { name: 'private keys garbage', expr: `crypto.parse_private_keys(${dyn('garbage')})` },
    { name: 'private keys empty', expr: `crypto.parse_private_keys(${dyn('')})` },
    { name: 'private keys bad block', expr: `crypto.parse_private_keys(${dyn('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')})` },
    { name: 'rsa jwk base64', expr: `crypto.x509.parse_rsa_private_key(${dyn(Buffer.from(rsaPkcs1).toString('base64'))})` },
    { name: 'rsa jwk empty', expr: `crypto.x509.parse_rsa_private_key(${dyn('')})` },
    { name: 'rsa jwk garbage', expr: `crypto.x509.parse_rsa_private_key(${dyn('garbage!')})` },
    { name: 'rsa jwk no key', expr: `crypto.x509.parse_rsa_private_key(${dyn(leaf)})` },
    { name: 'keypair ec', expr: `crypto.x509.parse_keypair(${dyn(leaf)}, ${dyn(ecKey)})` },
    { name: 'keypair ec sec1', expr: `crypto.x509.parse_keypair(${dyn(leaf + inter.pem)}, ${dyn(ecSec1)})` },
    { name: 'keypair rsa', expr: `crypto.x509.parse_keypair(${dyn(rsa)}, ${dyn(rsaPkcs1)})` },
    { name: 'keypair ed', expr: `crypto.x509.parse_keypair(${dyn(ed)}, ${dyn(edKey)})` },
    { name: 'keypair der', expr: `crypto.x509.parse_keypair(${dyn(der(rsa))}, ${dyn(keyDer(rsaKey))})` },
    {
      name: 'keypair base64 pem',
      expr: `crypto.x509.parse_keypair(${dyn(Buffer.from(rsa).toString('base64'))}, ${dyn(Buffer.from(rsaKey).toString('base64'))})`,
    },
    { name: 'keypair mismatch', expr: `crypto.x509.parse_keypair(${dyn(rsa)}, ${dyn(ecKey)})` },
    { name: 'keypair garbage', expr: `crypto.x509.parse_keypair(${dyn('garbage')}, ${dyn(ecKey)})` },
    { name: 'parse key block', expr: parse(ecKey) },
  );
  const withOpts = (pem: string, o: unknown): string => `crypto.x509.parse_and_verify_certificates_with_options(${dyn(pem)}, ${dyn(o)})`;
  const chain = root.pem + inter.pem + leaf;
  const past = (Date.now() - 72 * HOUR) * 1e6;
  cases.push(
    { name: 'opts none', expr: withOpts(chain, {}) },
    { name: 'opts dns', expr: withOpts(chain, { DNSName: 'api.example' }) },
    { name: 'opts dns wildcard', expr: withOpts(chain, { DNSName: 'a.svc.example' }) },
    { name: 'opts dns wildcard deep', expr: withOpts(chain, { DNSName: 'a.b.svc.example' }) },
    { name: 'opts dns upper', expr: withOpts(chain, { DNSName: 'API.example' }) },
    { name: 'opts dns wrong', expr: withOpts(chain, { DNSName: 'other.example' }) },
    { name: 'opts client only default', expr: withOpts(root.pem + inter.pem + clientOnly, {}) },
    { name: 'opts client only client', expr: withOpts(root.pem + inter.pem + clientOnly, { KeyUsages: ['KeyUsageClientAuth'] }) },
    { name: 'opts client only any', expr: withOpts(root.pem + inter.pem + clientOnly, { KeyUsages: ['KeyUsageAny'] }) },
    { name: 'opts code signing', expr: withOpts(chain, { KeyUsages: ['KeyUsageCodeSigning'] }) },
    { name: 'opts two usages', expr: withOpts(chain, { KeyUsages: ['KeyUsageCodeSigning', 'KeyUsageServerAuth'] }) },
    { name: 'opts bad usage', expr: withOpts(chain, { KeyUsages: ['KeyUsageNope'] }) },
    { name: 'opts expired now', expr: withOpts(root.pem + inter.pem + expired, {}) },
    { name: 'opts expired then', expr: withOpts(root.pem + inter.pem + expired, { CurrentTime: Math.round((Date.now() - 36 * HOUR) / 1000) * 1e9 }) },
    { name: 'opts before root', expr: withOpts(chain, { CurrentTime: Math.round(past / 1e9) * 1e9 }) },
    { name: 'opts bad time', expr: withOpts(chain, { CurrentTime: 'now' }) },
    { name: 'opts unknown', expr: withOpts(chain, { Foo: 1 }) },
    { name: 'opts max', expr: withOpts(chain, { MaxConstraintComparisons: 10 }) },
    { name: 'opts garbage', expr: withOpts('garbage', {}) },
    { name: 'opts type', expr: `crypto.x509.parse_and_verify_certificates_with_options(${dyn(chain)}, ${dyn([1])})` },
  );
  const csr = (name: string, keyFile: string, extra: string[]): string => {
    execFileSync('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=csr.example/O=Acme/C=DE', ...extra, '-out', name], { cwd: pki.dir, stdio: 'pipe' });
    return readFileSync(join(pki.dir, name), 'utf8');
  };
  const csrEc = csr('a.csr', 'leaf.key', [
    '-addext',
    'subjectAltName=DNS:a.example,URI:spiffe://td/x,IP:10.1.1.1,email:x@y.z',
    '-addext',
    'keyUsage=critical,digitalSignature',
    '-addext',
    '1.2.3.4=ASN1:UTF8String:hi',
  ]);
  const csrRsa = csr('b.csr', 'rsa.key', []);
  const csrEd = csr('c.csr', 'ed.key', ['-addext', 'basicConstraints=CA:FALSE']);
  const csrPw = csr('d.csr', 'leaf.key', ['-passin', 'pass:x']);
  const pcr = (s: string): string => `crypto.x509.parse_certificate_request(${dyn(s)})`;
  cases.push(
    ...[csrEc, csrRsa, csrEd, csrPw].map((c, i) => ({ name: `csr ${i}`, expr: pcr(c) })),
    { name: 'csr base64 der', expr: pcr(der(csrEc)) },
    { name: 'csr base64 pem', expr: pcr(Buffer.from(csrRsa).toString('base64')) },
    { name: 'csr cert', expr: pcr(leaf) },
    { name: 'csr garbage', expr: pcr('garbage') },
    { name: 'csr truncated', expr: pcr(der(csrEc).slice(0, 100)) },
  );
  return { cases, cleanup: () => pki.cleanup() };
}
