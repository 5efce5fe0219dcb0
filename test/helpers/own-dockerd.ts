import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { onExit, pauseSync, running } from './on-exit';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A Docker engine of our own: a second dockerd with its own data root, exec root (and so
 * its own containerd), pid file and socket under `dir`, started with the machine's network
 * rule (no bridge, no iptables, no forwarding, no masquerading: no docker0 appears). The
 * machine's engine (/var/run/docker.sock) is never touched; this one is stopped by its PID.
 */
export class OwnDockerd {
  private child?: ChildProcess;

  constructor(readonly dir: string) {}

  get socket(): string {
    return join(this.dir, 'docker.sock');
  }

  /** For DOCKER_HOST. */
  get host(): string {
    return `unix://${this.socket}`;
  }

  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  static async create(dir: string): Promise<OwnDockerd> {
    const engine = new OwnDockerd(dir);
    onExit(() => engine.kill());
    await engine.start();
    return engine;
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const interfaces = new Set(readdirSync('/sys/class/net'));
    const log = openSync(join(this.dir, 'dockerd.log'), 'a');
    this.child = spawn(
      process.env.SOAK_DOCKERD ?? 'dockerd',
      [
        '--data-root',
        join(this.dir, 'data'),
        '--exec-root',
        join(this.dir, 'exec'),
        '--pidfile',
        join(this.dir, 'dockerd.pid'),
        '-H',
        this.host,
        '--bridge=none',
        '--iptables=false',
        '--ip-forward=false',
        '--ip-masq=false',
        '--storage-driver=vfs',
        '--log-level=warn',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    this.child.on('error', () => undefined);
    const until = Date.now() + 60_000;
    while (!(await this.answers())) {
      if (this.child.exitCode !== null)
        throw new Error(`own dockerd exited (${this.child.exitCode}): see ${join(this.dir, 'dockerd.log')}`);
      if (Date.now() > until) throw new Error(`own dockerd did not answer on ${this.socket} in 60 s`);
      await sleep(50);
    }
    // The machine's rule: no bridge (docker0, br-…) nor veth may appear.
    const added = readdirSync('/sys/class/net').filter((i) => !interfaces.has(i) && /^(docker|br-|veth)/.test(i));
    if (added.length) {
      await this.stop();
      throw new Error(`own dockerd created network interfaces ${added.join(', ')}; it must run with --bridge=none`);
    }
  }

  /** GET /_ping on its socket. */
  answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request({ socketPath: this.socket, path: '/_ping', timeout: 1000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }

  /** SIGTERM to our dockerd (it stops its containerd), waiting for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
    this.killLeftovers();
    this.unmountLeftovers();
  }

  /** Any process still running from our exec root (its containerd after a SIGKILL), by PID. */
  killLeftovers(): void {
    const marker = join(this.dir, 'exec');
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        if (cmdline.includes(marker)) process.kill(Number(entry), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }

  /**
   * dockerd bind-mounts its data root onto itself and unmounts it when it stops; after a SIGKILL
   * the mount stays (and the folder cannot be removed): unmount what is left under our folder.
   */
  unmountLeftovers(): void {
    const points = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4])
      .filter((point) => point && (point === this.dir || point.startsWith(`${this.dir}/`)))
      .sort((a, b) => b.length - a.length);
    for (const point of points) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
  }

  /**
   * Last resort (a failed test, the process exiting): synchronous. SIGTERM first (dockerd then
   * unmounts and stops its containerd), SIGKILL after 8 s, then whatever is left.
   */
  kill(): void {
    const pid = this.pid;
    if (running(pid)) {
      try {
        process.kill(pid!, 'SIGTERM');
        for (let waited = 0; waited < 8000 && running(pid); waited += 50) pauseSync(50);
        if (running(pid)) process.kill(pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
    this.killLeftovers();
    this.unmountLeftovers();
  }
}
