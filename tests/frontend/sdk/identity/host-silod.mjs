// tests/frontend/sdk/identity/host-silod.mjs — owned by the x86 identity host suite
// (tests/host/identity_host.sh, host-identity.mjs). Runs silod processes for the suite, which
// must restart them in the middle of a 3LO flow while its provider, app and browser keep their
// state: start (stderr appended to a log file; waits at most 10 s for "silod: listening on
// 127.0.0.1:PORT"), stop (SIGTERM; SIGKILL after 10 s), restart. Each running pid is written
// to <log>.pid so the shell script can end what is left if this process dies.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const running = new Set();
process.on('exit', () => { for (const p of running) try { p.kill('SIGKILL'); } catch { /* gone */ } });

export class Silod {
  constructor({ bin, config, log, name }) {
    Object.assign(this, { bin, config, log, name, proc: null, port: null, starts: 0 });
  }

  logText() {
    try { return readFileSync(this.log, 'utf8'); } catch { return ''; }
  }

  async start() {
    if (this.proc) throw new Error(`${this.name} is already running`);
    let offset = 0;
    try { offset = statSync(this.log).size; } catch { /* new log */ }
    const fd = openSync(this.log, 'a');
    const proc = spawn(this.bin, ['--config', this.config], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    let exited = null;
    proc.on('exit', (code, signal) => { exited = { code, signal }; running.delete(proc); });
    running.add(proc);
    this.proc = proc;
    this.exit = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    writeFileSync(`${this.log}.pid`, `${proc.pid}\n`);
    this.starts++;
    for (let i = 0; i < 200; i++) {
      const text = this.logText().slice(offset);
      const m = /silod: listening on 127\.0\.0\.1:(\d+)/.exec(text);
      if (m) { this.port = Number(m[1]); return this.port; }
      if (exited) break;
      await sleep(50);
    }
    const tail = this.logText().slice(offset).split('\n').slice(-15).join('\n');
    await this.stop();
    throw new Error(`${this.name} did not start (${exited ? `exited ${JSON.stringify(exited)}` : 'no listening line in 10 s'}):\n${tail}`);
  }

  /** SIGTERM, then SIGKILL after 10 s; resolves with how it ended. */
  async stop() {
    const proc = this.proc;
    if (!proc) return null;
    this.proc = null;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 10000);
    const how = await this.exit;
    clearTimeout(killer);
    rmSync(`${this.log}.pid`, { force: true });
    return how;
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  /** Starts, expecting silod to refuse: resolves with its log lines of this start once it exited. */
  async expectRefusal(ms = 10000) {
    let offset = 0;
    try { offset = statSync(this.log).size; } catch { /* new log */ }
    const fd = openSync(this.log, 'a');
    const proc = spawn(this.bin, ['--config', this.config], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    running.add(proc);
    const result = await Promise.race([
      new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal }))),
      sleep(ms).then(() => null),
    ]);
    running.delete(proc);
    if (!result) { proc.kill('SIGKILL'); }
    return { exited: result, text: this.logText().slice(offset) };
  }
}
