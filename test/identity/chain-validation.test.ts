// RFC 5280 path validation of forwarded chains, held to OpenSSL: every chain
// here is made by the openssl CLI and also checked with `openssl verify`,
// and ztauthz must reach the same verdict (and give its own reason).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrustBundles } from '../../src/identity/TrustBundle.ts';
import { validateX509Svid } from '../../src/identity/X509Svid.ts';
import { Pki, type Ca, type IntermediateOptions } from '../support/pki.ts';

const TD = 'td.example';
const ID = `spiffe://${TD}/ns/x/sa/y`;
const DAY = 86_400_000;

let pki: Pki;
let root: Ca;
let n = 0;

beforeAll(() => {
  pki = new Pki();
  root = pki.ca(TD);
});
afterAll(() => pki.cleanup());

interface Verdicts {
  readonly openssl: { readonly ok: boolean; readonly output: string };
  readonly ztauthz: string;
}

/**
 * Issues root -> intermediates[0] -> ... -> leaf, then asks `openssl verify
 * -CAfile root.pem -untrusted inter.pem leaf.pem` and ztauthz (leaf first,
 * then the intermediates nearest first, as Envoy forwards a peer chain).
 */
function chain(inters: readonly [string, IntermediateOptions][], leaf: { uris?: string[]; dns?: string[] } = {}, anchor: Ca = root): Verdicts {
  let parent = anchor;
  const issued: Ca[] = [];
  for (const [name, opts] of inters) {
    parent = pki.intermediate(parent, name, opts);
    issued.push(parent);
  }
  const leafPem = pki.leaf({ ...parent, name: TD }, { uris: leaf.uris ?? [ID], ...(leaf.dns ? { dns: leaf.dns } : {}) });
  const k = ++n;
  const files = { root: join(pki.dir, `v${k}-root.pem`), inter: join(pki.dir, `v${k}-inter.pem`), leaf: join(pki.dir, `v${k}-leaf.pem`) };
  const nearestFirst = issued
    .map((c) => c.pem)
    .reverse()
    .join('');
  writeFileSync(files.root, anchor.pem);
  writeFileSync(files.inter, nearestFirst);
  writeFileSync(files.leaf, leafPem);
  const args = ['verify', '-CAfile', files.root, ...(issued.length > 0 ? ['-untrusted', files.inter] : []), files.leaf];
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  const bundles = TrustBundles.fromPem(new Map([[TD, anchor.pem]]));
  const ours = validateX509Svid(leafPem + nearestFirst, { bundles });
  return { openssl: { ok: r.status === 0, output: `${r.stdout}${r.stderr}` }, ztauthz: ours.ok ? 'ok' : ours.reason };
}

function expectBothAccept(v: Verdicts): void {
  expect(v.openssl.output).toContain(': OK');
  expect(v.openssl.ok).toBe(true);
  expect(v.ztauthz).toBe('ok');
}

function expectBothReject(v: Verdicts, opensslError: RegExp, reason: string): void {
  expect(v.openssl.ok).toBe(false);
  expect(v.openssl.output).toMatch(opensslError);
  expect(v.ztauthz).toBe(reason);
}

const CA_OK: IntermediateOptions = {};

describe('valid chains are still accepted', () => {
  it('one intermediate', () => expectBothAccept(chain([['i1', CA_OK]])));
  it('two intermediates', () =>
    expectBothAccept(
      chain([
        ['i1', CA_OK],
        ['i2', CA_OK],
      ]),
    ));
  it('intermediates sent in the wrong order', () => {
    const i1 = pki.intermediate(root, 'o1');
    const i2 = pki.intermediate(i1, 'o2');
    const leaf = pki.leaf({ ...i2, name: TD }, { uris: [ID] });
    const bundles = TrustBundles.fromPem(new Map([[TD, root.pem]]));
    const r = validateX509Svid(leaf + i1.pem + i2.pem, { bundles });
    expect(r.ok ? 'ok' : r.reason).toBe('ok');
  });
});

describe('basic constraints and key usage of every issuer', () => {
  it('pathLenConstraint exceeded: root -> sub-CA pathlen:0 -> sub-sub-CA -> leaf', () => {
    expectBothReject(
      chain([
        ['pl0', { pathLen: 0 }],
        ['below-pl0', CA_OK],
      ]),
      /path length constraint exceeded/,
      'path length constraint exceeded',
    );
  });

  it('pathLenConstraint met: pathlen:0 directly above the leaf, pathlen:1 above one more CA', () => {
    expectBothAccept(chain([['pl0-ok', { pathLen: 0 }]]));
    expectBothAccept(
      chain([
        ['pl1', { pathLen: 1 }],
        ['below-pl1', CA_OK],
      ]),
    );
  });

  it("pathLenConstraint of a lower CA exceeded even where the upper one's allows it", () => {
    expectBothReject(
      chain([
        ['pl2', { pathLen: 2 }],
        ['pl0-mid', { pathLen: 0 }],
        ['below-mid', CA_OK],
      ]),
      /path length constraint exceeded/,
      'path length constraint exceeded',
    );
  });

  it("the trust anchor's pathLenConstraint applies, as in OpenSSL", () => {
    const strictRoot = pki.ca('td.example', 2, { basicConstraints: 'critical,CA:TRUE,pathlen:0' });
    expectBothAccept(chain([], {}, strictRoot));
    expectBothReject(chain([['under-strict-root', CA_OK]], {}, strictRoot), /path length constraint exceeded/, 'path length constraint exceeded');
  });

  it('an intermediate without keyCertSign', () => {
    expectBothReject(
      chain([['no-certsign', { keyUsage: 'critical,digitalSignature,cRLSign' }]]),
      /key usage does not include certificate signing/,
      'chain holds an issuer without keyCertSign',
    );
  });

  it('an intermediate with CA:FALSE', () => {
    expectBothReject(chain([['not-ca', { ca: false }]]), /invalid CA certificate/, 'chain holds an issuer that is not a CA');
  });

  it('an intermediate with an unknown critical extension', () => {
    expectBothReject(
      chain([['odd-critical', { extra: ['1.3.6.1.4.1.99999.7=critical,ASN1:NULL'] }]]),
      /unhandled critical extension|unsupported certificate purpose/,
      'chain holds an unsupported critical extension',
    );
  });
});

describe('validity of every certificate', () => {
  const now = Date.now();
  it('an expired intermediate', () => {
    expectBothReject(chain([['expired', { notBefore: new Date(now - 3 * DAY), notAfter: new Date(now - DAY) }]]), /certificate has expired/, 'expired');
  });

  it('a not-yet-valid intermediate', () => {
    expectBothReject(
      chain([['future', { notBefore: new Date(now + DAY), notAfter: new Date(now + 2 * DAY) }]]),
      /certificate is not yet valid/,
      'not yet valid',
    );
  });
});

describe('name constraints (URI names match by host: for SPIFFE IDs, the trust domain)', () => {
  it('permitted URI:other.example refuses a leaf of td.example', () => {
    expectBothReject(
      chain([['nc-other', { nameConstraints: 'critical,permitted;URI:other.example' }]]),
      /permitted subtree violation/,
      'URI name not permitted by name constraints',
    );
  });

  it('permitted URI:td.example allows the leaf; so does permitted URI:.example (any host below)', () => {
    expectBothAccept(chain([['nc-td', { nameConstraints: 'critical,permitted;URI:td.example' }]]));
    expectBothAccept(chain([['nc-dot', { nameConstraints: 'critical,permitted;URI:.example' }]]));
  });

  it('a URI constraint with a path (spiffe://td.example/ns/x) matches no host, so permits nothing', () => {
    expectBothReject(
      chain([['nc-path', { nameConstraints: 'critical,permitted;URI:spiffe://td.example/ns/x' }]], { uris: ['spiffe://td.example/ns/x'] }),
      /permitted subtree violation/,
      'URI name not permitted by name constraints',
    );
  });

  it('excluded URI:td.example refuses the leaf', () => {
    expectBothReject(
      chain([['nc-excl', { nameConstraints: 'critical,excluded;URI:td.example' }]]),
      /excluded subtree violation/,
      'URI name excluded by name constraints',
    );
  });

  it('a sub-CA cannot widen the permitted subtrees of the CA above it (intersection, not union)', () => {
    expectBothReject(
      chain([
        ['nc-upper', { nameConstraints: 'critical,permitted;URI:other.example' }],
        ['nc-lower', { nameConstraints: 'critical,permitted;URI:td.example' }],
      ]),
      /permitted subtree violation/,
      'URI name not permitted by name constraints',
    );
  });

  it('constraints of an upper CA bind a leaf two levels down', () => {
    expectBothReject(
      chain([
        ['nc-far', { nameConstraints: 'critical,excluded;URI:td.example' }],
        ['nc-plain', CA_OK],
      ]),
      /excluded subtree violation/,
      'URI name excluded by name constraints',
    );
  });

  it("the trust anchor's name constraints apply, as in OpenSSL", () => {
    const constrained = pki.ca('td.example', 2, { extra: ['nameConstraints=critical,permitted;URI:other.example'] });
    expectBothReject(chain([['under-nc-root', CA_OK]], {}, constrained), /permitted subtree violation/, 'URI name not permitted by name constraints');
  });

  it('DNS names: permitted DNS:svc.example allows a.svc.example, refuses a.other.example', () => {
    const nc = { nameConstraints: 'critical,permitted;DNS:svc.example' };
    expectBothAccept(chain([['dns-ok', nc]], { dns: ['a.svc.example'] }));
    expectBothReject(chain([['dns-bad', nc]], { dns: ['a.other.example'] }), /permitted subtree violation/, 'DNS name not permitted by name constraints');
  });

  it('a DNS-only constraint does not restrict the URI SAN (other name forms are unconstrained)', () => {
    expectBothAccept(chain([['dns-only', { nameConstraints: 'critical,permitted;DNS:svc.example' }]]));
  });

  it('directory names: permitted dirName O=ztauthz-test allows the leaf subject, O=other refuses it', () => {
    // The extension file's lines after "[nc_dn]" form the section dirName names.
    const dn = (o: string): IntermediateOptions => ({ nameConstraints: 'critical,permitted;dirName:nc_dn', extra: ['[nc_dn]', `O=${o}`] });
    expectBothAccept(chain([['dn-ok', dn('ztauthz-test')]]));
    expectBothReject(chain([['dn-bad', dn('other')]]), /permitted subtree violation/, 'directory name not permitted by name constraints');
  });
});
