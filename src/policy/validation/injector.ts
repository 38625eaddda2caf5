// spec.injector: where the API server sends the revision's AdmissionReviews.
// Beyond the CRD, it checks what the API server cannot: that caBundle decodes
// to PEM certificates and that a URL is usable as a webhook URL. No I/O.
import { FAILURE_POLICIES, MAX_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS } from '../../api/meshrevision.js';
import { DNS1035_LABEL, dnsLabel, isObject, quote, unknownFields, type FieldError } from './fields.js';

/** Standard base64 as the API server's `format: byte` accepts it. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

const INJECTOR_FIELDS = ['service', 'url', 'caBundle', 'failurePolicy', 'timeoutSeconds'];
const SERVICE_FIELDS = ['name', 'namespace', 'port', 'path'];

function validateService(service: unknown, path: string, errors: FieldError[]): void {
  if (!isObject(service)) {
    errors.push({ field: path, message: 'must be an object {name, namespace, port, path}' });
    return;
  }
  unknownFields(service, SERVICE_FIELDS, path, errors);
  dnsLabel(service['name'], `${path}.name`, 'the injector Service name', errors, DNS1035_LABEL);
  if (service['namespace'] !== undefined) dnsLabel(service['namespace'], `${path}.namespace`, 'the injector Service namespace', errors);
  const port = service['port'];
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
    errors.push({ field: `${path}.port`, message: `port ${quote(port)} is not valid: use an integer from 1 to 65535 (istiod serves 443)` });
  }
  const p = service['path'];
  if (p !== undefined && (typeof p !== 'string' || !p.startsWith('/'))) {
    errors.push({ field: `${path}.path`, message: `path ${quote(p)} must start with "/" (istiod serves "/inject")` });
  }
}

function validateUrl(url: unknown, field: string, errors: FieldError[]): void {
  if (typeof url !== 'string' || url === '') {
    errors.push({ field, message: 'url must be a non-empty https:// URL' });
    return;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    errors.push({ field, message: `url ${quote(url)} is not an absolute URL: write it as https://host[:port]/path` });
    return;
  }
  // The API server only calls webhooks over TLS and rejects user info, query and fragment.
  if (parsed.protocol !== 'https:') {
    errors.push({ field, message: `url ${quote(url)} must use https:// (the API server only calls webhooks over TLS)` });
  }
  if (parsed.username !== '' || parsed.password !== '') {
    errors.push({ field, message: `url ${quote(url)} must not contain user info ("user:password@"); authenticate with the CA bundle and TLS instead` });
  }
  if (parsed.search !== '' || url.includes('?')) {
    errors.push({ field, message: `url ${quote(url)} must not have a query ("?..."): the API server rejects webhook URLs with query parameters` });
  }
  if (parsed.hash !== '' || url.includes('#')) {
    errors.push({ field, message: `url ${quote(url)} must not have a fragment ("#...")` });
  }
  if (parsed.hostname === '') {
    errors.push({ field, message: `url ${quote(url)} has no host` });
  }
}

function validateCaBundle(ca: unknown, field: string, errors: FieldError[]): void {
  if (typeof ca !== 'string') {
    errors.push({ field, message: 'caBundle must be a string: the base64 encoding of the PEM (e.g. `base64 -w0 ca.crt`)' });
    return;
  }
  if (ca === '') return; // same as absent
  if (ca.includes('-----BEGIN')) {
    errors.push({ field, message: 'caBundle holds raw PEM text: caBundle must be the base64 encoding of the PEM, so base64-encode it (e.g. `base64 -w0 ca.crt`)' });
    return;
  }
  if (!BASE64.test(ca)) {
    errors.push({ field, message: 'caBundle is not valid base64 (standard alphabet, padded, no line breaks): caBundle must be the base64 encoding of the PEM (e.g. `base64 -w0 ca.crt`)' });
    return;
  }
  const decoded = Buffer.from(ca, 'base64').toString('latin1');
  if (!PEM_CERT.test(decoded)) {
    const hint = BASE64.test(decoded.trim()) ? ' (it looks base64-encoded twice)' : '';
    errors.push({
      field,
      message: `caBundle decodes to no PEM certificate${hint}: it must be the base64 of "-----BEGIN CERTIFICATE-----" blocks`,
    });
  }
}

/** Checks spec.injector: exactly one of service and url, a usable caBundle, the API server's bounds. */
export function validateInjector(injector: unknown, path: string, errors: FieldError[]): void {
  if (!isObject(injector)) {
    errors.push({
      field: path,
      message: 'injector is required: set injector.service (an in-cluster Service) or injector.url, or spec.webhooks.management: External to adopt the webhooks istiod\'s chart wrote',
    });
    return;
  }
  unknownFields(injector, INJECTOR_FIELDS, path, errors);
  const hasService = injector['service'] !== undefined;
  const hasUrl = injector['url'] !== undefined;
  if (hasService === hasUrl) {
    errors.push({
      field: path,
      message: hasService
        ? 'set only one of injector.service and injector.url, not both'
        : 'set one of injector.service (an in-cluster Service, e.g. {name: istiod-1-21}) or injector.url (https:// outside the cluster)',
    });
  }
  if (hasService) validateService(injector['service'], `${path}.service`, errors);
  if (hasUrl) validateUrl(injector['url'], `${path}.url`, errors);
  if (injector['caBundle'] !== undefined) validateCaBundle(injector['caBundle'], `${path}.caBundle`, errors);

  const fp = injector['failurePolicy'];
  if (fp !== undefined && !FAILURE_POLICIES.includes(fp as never)) {
    errors.push({
      field: `${path}.failurePolicy`,
      message: `failurePolicy ${quote(fp)} is not valid: use "Fail" (pods are rejected while the injector is down) or "Ignore" (they start without a sidecar)`,
    });
  }
  const t = injector['timeoutSeconds'];
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t < MIN_TIMEOUT_SECONDS || t > MAX_TIMEOUT_SECONDS)) {
    errors.push({
      field: `${path}.timeoutSeconds`,
      message: `timeoutSeconds ${quote(t)} is not valid: use an integer from ${MIN_TIMEOUT_SECONDS} to ${MAX_TIMEOUT_SECONDS} (the API server's limit)`,
    });
  }
}
