// The service log (pino): the line shape operators and the other tests read
// ("level" as a name, ISO "time", "msg" before the fields, no pid/hostname),
// the level threshold, and values JSON cannot hold written rather than thrown.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { createLogger } from '../../src/observe/Log.ts';
import { tempFile } from './support/checks.ts';

function logTo(level: 'debug' | 'info' | 'warn' | 'error'): { log: ReturnType<typeof createLogger>; lines: () => string[] } {
  const file = tempFile('service.log');
  const log = createLogger(level, pino.destination({ dest: file, sync: true }));
  return { log, lines: () => readFileSync(file, 'utf8').split('\n').filter(Boolean) };
}

describe('service log', () => {
  it('one JSON line per event: level name, ISO time, msg first, then the fields in order', () => {
    const { log, lines } = logTo('info');
    log.warn('grpc caller refused', { reason: 'not_allowed', details: 'peer not on the list' });
    log.info('stopped');
    const [refused, stopped] = lines();
    expect(refused).toMatch(/^\{"level":"warn","time":"[^"]+","msg":"grpc caller refused","reason":"not_allowed","details":"peer not on the list"\}$/);
    const parsed = JSON.parse(refused!);
    expect(new Date(parsed.time).toISOString()).toBe(parsed.time);
    expect(parsed).not.toHaveProperty('pid');
    expect(parsed).not.toHaveProperty('hostname');
    expect(JSON.parse(stopped!)).toEqual({ level: 'info', time: expect.any(String), msg: 'stopped' });
  });

  it('lines below the level are not written', () => {
    const { log, lines } = logTo('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines().map((l) => JSON.parse(l).msg)).toEqual(['w', 'e']);
  });

  it('fields JSON cannot hold are written, not thrown: undefined left out, a cycle marked', () => {
    const { log, lines } = logTo('debug');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    log.error('odd fields', { gone: undefined, cyclic });
    const line = JSON.parse(lines()[0]!);
    expect(line).not.toHaveProperty('gone');
    expect(line.cyclic).toEqual({ a: 1, self: '[Circular]' });
  });
});
