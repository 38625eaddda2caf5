// The gates' one entry point for the operator: the built-in injector gate and
// the user-defined checks (Prometheus, HTTP), dispatched by kind. Only
// operator.ts imports src/gates; the reconcilers receive this as a dependency.
import type { CheckInstance, Measurement } from '../api/health.js';
import type { InjectorSpec } from '../api/meshrevision.js';
import { runHttpCheck } from './http.js';
import { probeInjector, type ReadyEndpoints } from './injector.js';
import { urlPolicyFromEnv, type UrlPolicy } from './url-policy.js';
import { runPrometheusCheck } from './prometheus.js';

export interface Gates {
  /** Undefined when the injector (a MeshRevision's spec.injector, or what its adopted webhook calls) is reachable and ready; otherwise why not. */
  probeInjector(injector: InjectorSpec | undefined): Promise<string | undefined>;
  /** One measurement of a user-defined check; never throws. */
  runCheck(instance: CheckInstance): Promise<Measurement>;
}

/** Throws when the environment's health-check URL policy ranges are malformed (the operator then fails at start). */
export function makeGates(opts: { readyEndpoints: ReadyEndpoints; urlPolicy?: UrlPolicy }): Gates {
  const urlPolicy = opts.urlPolicy ?? urlPolicyFromEnv(process.env);
  return {
    probeInjector: (injector) => probeInjector(injector, { readyEndpoints: opts.readyEndpoints }),
    runCheck: (i) => (i.check.kind === 'prometheus' ? runPrometheusCheck(i.check, i.vars, { urlPolicy }) : runHttpCheck(i.check, i.vars, { urlPolicy })),
  };
}
