// Shared by the gateway's node tests: starting girder and the local upstreams as child
// processes, waiting for the line that says they are ready.
import { spawn } from 'node:child_process';

const PROXY_VARS = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy',
                    'ALL_PROXY', 'no_proxy', 'NO_PROXY'];

// Spawns argv with env added (loopback: never through the host's proxy) and resolves with
// { p, m, out() } once its stdout or stderr matches pattern (m: the match); rejects when it
// exits first or after 10 s.
export function start(argv, pattern, env = {}) {
  const base = { ...process.env };
  for (const k of PROXY_VARS) delete base[k];
  const p = spawn(argv[0], argv.slice(1), { env: { ...base, ...env } });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ' + pattern + ' in:\n' + out)), 10000);
    const onData = (d) => {
      out += d.toString();
      const m = out.match(pattern);
      if (m) { clearTimeout(timer); resolve({ p, m, out: () => out }); }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('exit', (c) => reject(new Error('exited ' + c + ':\n' + out)));
  });
}
