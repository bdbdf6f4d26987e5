/** Resource use of a process we started, read from /proc (Linux only): RSS, CPU time, write activity. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticks: number | null = null;
function clockTicks(): number {
  if (ticks === null) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

export interface ProcSample {
  /** performance.now()-like wall clock of the sample, ms. */
  at: number;
  rssBytes: number;
  /** Peak RSS so far (VmHWM). */
  hwmBytes: number;
  /** user + system CPU seconds since the process started. */
  cpuSeconds: number;
  /** Bytes passed to write(2)-like calls and the number of such calls (/proc/<pid>/io wchar, syscw). */
  wchar: number;
  syscw: number;
}

function kb(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** One sample of /proc/<pid>/{stat,status,io}; throws when the process is gone. */
export function sampleProc(pid: number, at: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  let wchar = NaN;
  let syscw = NaN;
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    wchar = Number(/^wchar:\s+(\d+)/m.exec(io)?.[1] ?? NaN);
    syscw = Number(/^syscw:\s+(\d+)/m.exec(io)?.[1] ?? NaN);
  } catch {
    /* not readable here */
  }
  return { at, rssBytes: kb(status, 'VmRSS'), hwmBytes: kb(status, 'VmHWM'), cpuSeconds: (utime + stime) / clockTicks(), wchar, syscw };
}
