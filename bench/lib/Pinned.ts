// A server process pinned to its own cores, with what the table reports about
// it: CPU time and peak resident memory, summed over the process and its
// children (`serve --workers N` forks). Linux only (/proc, taskset).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim() || '100');

export interface PinnedOptions {
  /** taskset CPU list, e.g. "0" or "0,1". */
  readonly cores: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Matched against stdout+stderr; capture groups are returned as `ready`. */
  readonly ready: RegExp;
  readonly timeoutMs?: number;
}

export interface Pinned {
  readonly child: ChildProcess;
  /** The ready pattern's capture groups. */
  readonly ready: readonly string[];
  /** utime + stime in seconds over the process tree (live processes only). */
  cpuSeconds(): number;
  /** Sum of VmHWM (peak RSS) over the process tree, in bytes. */
  peakRssBytes(): number;
  output(): string;
  stop(): Promise<void>;
}

/** Every child the bench started and has not seen exit, so that a failure or Ctrl-C can stop them all. */
const live = new Set<ChildProcess>();

/** Registers a child for killAll(); it leaves the set when it exits. */
export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** SIGTERM to every tracked child still running, SIGKILL after `graceMs`. */
export async function killAll(graceMs = 5000): Promise<void> {
  const waiting = [...live].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(waiting.map((c) => stopChild(c, graceMs)));
}

/** Busy time (everything but idle and iowait, steal included) of the given CPUs since boot, in seconds, from /proc/stat. */
export function coresBusySeconds(cores: readonly number[]): number {
  try {
    let busy = 0;
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+) (.*)$/.exec(line);
      if (!m || !cores.includes(Number(m[1]))) continue;
      const [user, nice, system, , , irq, softirq, steal] = m[2]!.trim().split(/\s+/).map(Number);
      busy += user! + nice! + system! + irq! + softirq! + (steal ?? 0);
    }
    return busy / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** "0,1" or "0-2" as core numbers. */
export function coreList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
  });
}

export function tasksetAvailable(): boolean {
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}

export function startPinned(o: PinnedOptions): Promise<Pinned> {
  const child = spawn('taskset', ['-c', o.cores, o.command, ...o.args], {
    cwd: o.cwd,
    env: o.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  track(child);
  let out = '';
  // Bounded: a chatty server (decision log on stdout) must not grow the bench's memory.
  const collect = (d: Buffer): void => {
    out = (out + d.toString()).slice(-64 * 1024);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${o.command} did not get ready in ${o.timeoutMs ?? 60_000} ms: ${out.slice(-2000)}`));
    }, o.timeoutMs ?? 60_000);
    const early = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`${o.command} exited (${code}) before it was ready: ${out.slice(-2000)}`));
    };
    child.on('exit', early);
    let done = false;
    const onData = (d: Buffer): void => {
      collect(d);
      if (done) return;
      const m = o.ready.exec(out);
      if (!m) return;
      done = true;
      clearTimeout(timer);
      child.off('exit', early);
      resolve({
        child,
        ready: m.slice(1),
        cpuSeconds: () => sumTree(child.pid!, cpuOf),
        peakRssBytes: () => sumTree(child.pid!, hwmOf),
        output: () => out,
        stop: () => stopChild(child),
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
}

function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** taskset execs the command, so the pid is the server's own; its workers are its children. */
function sumTree(pid: number, read: (pid: number) => number): number {
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    total += read(p);
    stack.push(...childrenOf(p));
  }
  return total;
}

function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (list) kids.push(...list.split(' ').map(Number));
    }
  } catch {
    /* exited */
  }
  return kids;
}

function cpuOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    // After "pid (comm) ", utime and stime are the 12th and 13th fields.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

function hwmOf(pid: number): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}
