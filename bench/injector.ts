// The sidecar injection webhook over TLS on loopback: requests/s and latency
// percentiles for a typical Deployment pod, with keep-alive connections like
// the API server's. Bounded by a request count and a time limit. Also times
// the admission app alone, to show what TLS and HTTP add.
//
//   node dist/bench/run.js injector [--requests N] [--concurrency C] [--seconds S]
import { Agent } from 'node:https';
import { parseArgs } from 'node:util';
import { defaultInjectorConfig } from '../src/injector/config.js';
import { createAdmissionApp } from '../src/webhook/admission.js';
import { startWebhookServer } from '../src/webhook/server.js';
import { appPod, podReview } from '../test/support/admission.js';
import { makeServingCert } from '../test/support/certs.js';
import { httpsCall } from '../test/support/injector.js';
import type { Bench } from './run.js';

export interface Figures {
  requests: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p90ms: number;
  p99ms: number;
  maxMs: number;
}

export function percentile(sortedMs: readonly number[], p: number): number {
  if (sortedMs.length === 0) return NaN;
  const i = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[i] as number;
}

function figures(latenciesMs: number[], seconds: number): Figures {
  const s = [...latenciesMs].sort((a, b) => a - b);
  return {
    requests: s.length,
    seconds,
    perSecond: s.length / seconds,
    p50ms: percentile(s, 50),
    p90ms: percentile(s, 90),
    p99ms: percentile(s, 99),
    maxMs: s[s.length - 1] ?? NaN,
  };
}

function print(label: string, f: Figures): void {
  const ms = (x: number) => x.toFixed(3);
  console.log(`${label}: ${f.requests} requests in ${f.seconds.toFixed(2)} s = ${f.perSecond.toFixed(0)} req/s; ` +
    `latency p50 ${ms(f.p50ms)} ms, p90 ${ms(f.p90ms)} ms, p99 ${ms(f.p99ms)} ms, max ${ms(f.maxMs)} ms`);
}

export async function runInjectorBench(opts: { requests: number; concurrency: number; seconds: number }): Promise<{ app: Figures; tls: Figures }> {
  const config = defaultInjectorConfig('1-21');
  const app = createAdmissionApp({ config });
  const body = JSON.stringify(podReview(appPod({ 'sidecar.istio.io/proxyCPU': '200m', 'sidecar.istio.io/proxyCPULimit': '1' })));

  // The app alone, in process: the floor under the HTTPS figures.
  const appLat: number[] = [];
  const appStart = process.hrtime.bigint();
  const appDeadline = Date.now() + opts.seconds * 1000;
  for (let i = 0; i < opts.requests && Date.now() < appDeadline; i++) {
    const t = process.hrtime.bigint();
    const r = app.handleRaw(body);
    appLat.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.status !== 200) throw new Error(`app answered ${r.status}`);
  }
  const appFigures = figures(appLat, Number(process.hrtime.bigint() - appStart) / 1e9);

  const cert = makeServingCert();
  const server = await startWebhookServer({ app, cert: cert.certPem, key: cert.keyPem, port: 0 });
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency, ca: cert.caPem });
  try {
    const call = async () => {
      const r = await httpsCall(server.url(), { method: 'POST', body, caPem: cert.caPem, agent });
      if (r.status !== 200 || !r.body.includes('"patchType":"JSONPatch"')) throw new Error(`injector answered ${r.status}: ${r.body.slice(0, 200)}`);
    };
    // Warm up connections and the JIT.
    await Promise.all(Array.from({ length: opts.concurrency * 10 }, call));

    const lat: number[] = [];
    let issued = 0;
    const deadline = Date.now() + opts.seconds * 1000;
    const start = process.hrtime.bigint();
    const worker = async () => {
      while (issued < opts.requests && Date.now() < deadline) {
        issued++;
        const t = process.hrtime.bigint();
        await call();
        lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    const tls = figures(lat, Number(process.hrtime.bigint() - start) / 1e9);
    return { app: appFigures, tls };
  } finally {
    agent.destroy();
    await server.close();
  }
}

export const bench: Bench = {
  description: 'sidecar injection webhook (AdmissionReview -> JSONPatch) over TLS on loopback',
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        requests: { type: 'string', default: '5000' },
        concurrency: { type: 'string', default: '8' },
        seconds: { type: 'string', default: '20' },
      },
    });
    const opts = { requests: Number(values.requests), concurrency: Number(values.concurrency), seconds: Number(values.seconds) };
    for (const [k, v] of Object.entries(opts)) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`--${k} must be a positive integer`);
    }
    console.log(`typical pod: 1 app container with a port, resource annotations; ${opts.requests} requests max, ${opts.seconds} s max, concurrency ${opts.concurrency}, keep-alive`);
    const r = await runInjectorBench(opts);
    print('admission app in process', r.app);
    print(`HTTPS /inject, ${opts.concurrency} concurrent`, r.tls);
  },
};
