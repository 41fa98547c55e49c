// End-to-end test support: builds and starts the real server binary, launches Debian's
// Chromium through playwright-core, and guarantees that every process it started is stopped,
// even when a test fails (after() hooks plus an exit handler as the last resort).

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CLIENT_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const REPO_DIR = fileURLToPath(new URL('../../../', import.meta.url));
export const SHOTS_DIR = `${CLIENT_DIR}test-results/`;
mkdirSync(SHOTS_DIR, { recursive: true });

const running = new Set();
process.on('exit', () => {
  for (const p of running) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

let binary = process.env.TICKWIRE_BIN || null;

/** Path of the server binary, built with cargo on first use unless TICKWIRE_BIN is set. */
export function serverBinary() {
  if (binary) return binary;
  const out = execFileSync('cargo', ['build', '-p', 'tickwire-server', '--bin', 'tickwire', '--message-format=json'], {
    cwd: REPO_DIR,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    const m = JSON.parse(line);
    if (m.reason === 'compiler-artifact' && m.executable && m.target?.name === 'tickwire') binary = m.executable;
  }
  if (!binary) throw new Error('cargo did not report the tickwire binary');
  return binary;
}

/** A running server process. */
export class ServerProcess {
  static async start(args = [], addr = '127.0.0.1:0') {
    const s = new ServerProcess();
    await s.launch(args, addr);
    return s;
  }

  async launch(args, addr) {
    this.args = args;
    // The page is served from this working tree (`--web-dir`), so the tests play exactly the
    // files under test; server/src/net/web.rs's own test checks that the binary embeds them all.
    // Results go to an in-memory database unless a test names one (never a file in the tree).
    // Endless rounds unless a test asks for them, so no score resets in the middle of a test.
    const db = [
      ...(args.includes('--db') ? [] : ['--db', 'sqlite::memory:']),
      ...(args.includes('--round-time') ? [] : ['--round-time', '0s']),
    ];
    const proc = spawn(serverBinary(), ['--addr', addr, '--web-dir', CLIENT_DIR, ...db, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
    });
    this.proc = proc;
    running.add(proc);
    proc.on('exit', () => running.delete(proc));
    proc.stderr.on('data', (d) => {
      if (process.env.TICKWIRE_E2E_VERBOSE) process.stderr.write(d);
    });
    this.addr = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error('server did not print its address in 30 s')), 30_000);
      proc.stdout.on('data', (d) => {
        buf += d;
        const m = buf.match(/tickwire listening on http:\/\/(\S+)/);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      proc.on('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
    });
    this.url = `http://${this.addr}/`;
  }

  /** Stops the process (`signal` SIGKILL to simulate a crash) and waits until it is gone. */
  async stop(signal = 'SIGTERM') {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }

  /** Starts the same server again on the same address. */
  async restart() {
    await this.launch(this.args, this.addr);
  }
}

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** Launches Debian's Chromium (never a downloaded browser). */
export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    // Extra flags for measurements, e.g. `--disable-frame-rate-limit --disable-gpu-vsync` to
    // see the frame rate without the 60 Hz animation-frame cap.
    args: [...CHROMIUM_ARGS, ...(process.env.CHROMIUM_EXTRA_ARGS || '').split(' ').filter(Boolean)],
  });
  const proc = browser.process?.();
  if (proc) {
    running.add(proc);
    proc.on('exit', () => running.delete(proc));
  }
  return browser;
}

/** Opens the client in a new page and joins with `name`; resolves once connected. */
export async function joinPage(browser, url, name, { viewport = { width: 1280, height: 720 } } = {}) {
  const page = await browser.newPage({ viewport });
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(url);
  await page.fill('#name', name);
  await page.click('#join-form button[type=submit]');
  return page;
}

/** The page's game summary (`window.tickwire.summary()`). */
export function summary(page) {
  return page.evaluate(() => window.tickwire.summary());
}

/** Waits until `pred(summary)` holds, polling the page; fails with the last summary. */
export async function waitFor(page, pred, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await summary(page);
    if (pred(last)) return last;
    await page.waitForTimeout(50);
  }
  throw new Error(`timed out waiting for ${what}; last state: ${JSON.stringify(last)}`);
}
