// Every relative link in README.md and docs/*.md points at a file that exists
// and, for a Markdown file, at a heading it has (GitHub's anchor for it).
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './support/servers.ts';

const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** Markdown without fenced code blocks and inline code, where brackets are not links. */
function prose(md: string): string {
  return md.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/**
 * GitHub's heading anchors: lower case, punctuation dropped, spaces to
 * hyphens, a repeat suffixed -1, -2. Hand-written because no Markdown library
 * is installed and the rule is these few lines.
 */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, text] of md.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = text!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

describe('links in README.md and docs/', () => {
  it('finds the documents', () => {
    expect(DOCS).toContain('docs/configuration.md');
    expect(DOCS.length).toBeGreaterThan(5);
  });

  for (const doc of DOCS) {
    it(`${doc}: every relative link resolves`, () => {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      const links = [...prose(text).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/i.test(l));
      const broken: string[] = [];
      for (const link of links) {
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path ? resolve(dirname(join(ROOT, doc)), path) : join(ROOT, doc);
        if (!target.startsWith(ROOT) || !existsSync(target)) {
          broken.push(`${link}: no file ${relative(ROOT, target)}`);
          continue;
        }
        if (anchor !== undefined && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) {
          broken.push(`${link}: no heading #${anchor} in ${relative(ROOT, target)}`);
        }
      }
      expect(broken).toEqual([]);
    });
  }
});
