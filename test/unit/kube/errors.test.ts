import { ApiException } from '@kubernetes/client-node';
import { expect } from 'chai';
import {
  apiErrorMessage,
  classifyError,
  isAlreadyExists,
  isConflict,
  isForbidden,
  isGone,
  isInvalid,
  isNotFound,
  isTransient,
} from '../../../src/kube/errors.js';

/** What client-node 2.x throws: the response body is kept as text. */
function apiError(code: number, status: Record<string, unknown> | undefined): ApiException<string | undefined> {
  return new ApiException(code, 'Unknown API Status Code!', status ? JSON.stringify({ kind: 'Status', apiVersion: 'v1', code, ...status }) : undefined, {});
}

describe('kube error classification', () => {
  it('classifies 404 as notFound with the server message', () => {
    const err = apiError(404, { reason: 'NotFound', message: 'namespaces "shop" not found' });
    expect(isNotFound(err)).to.be.true;
    expect(classifyError(err)).to.include({ kind: 'notFound', code: 404, reason: 'NotFound', message: 'namespaces "shop" not found', transient: false });
  });

  it('tells a stale-resourceVersion conflict from AlreadyExists (both 409)', () => {
    const conflict = apiError(409, { reason: 'Conflict', message: 'the object has been modified; please apply your changes to the latest version' });
    const exists = apiError(409, { reason: 'AlreadyExists', message: 'leases.coordination.k8s.io "x" already exists' });
    expect(isConflict(conflict)).to.be.true;
    expect(isAlreadyExists(conflict)).to.be.false;
    expect(isAlreadyExists(exists)).to.be.true;
    expect(isConflict(exists)).to.be.false;
  });

  it('classifies 410 Gone, including the statusCode errors client-node Watch raises', () => {
    expect(isGone(apiError(410, { reason: 'Expired', message: 'too old resource version: 1 (5000)' }))).to.be.true;
    const watchErr = Object.assign(new Error('Gone'), { statusCode: 410 });
    expect(isGone(watchErr)).to.be.true;
  });

  it('classifies 403 as forbidden and 401 as unauthorized (no body)', () => {
    expect(isForbidden(apiError(403, { reason: 'Forbidden', message: 'cannot list resource "pods"' }))).to.be.true;
    expect(classifyError(apiError(401, undefined)).kind).to.equal('unauthorized');
  });

  it('extracts the field causes of a 422 Invalid', () => {
    const err = apiError(422, {
      reason: 'Invalid',
      message: 'MeshRevision.meshrev.io "canary" is invalid: spec.revision: Invalid value: "Bad": must be a DNS label',
      details: {
        causes: [{ reason: 'FieldValueInvalid', field: 'spec.revision', message: 'Invalid value: "Bad": must be a DNS label' }],
      },
    });
    expect(isInvalid(err)).to.be.true;
    const info = classifyError(err);
    expect(info.causes).to.deep.equal([{ reason: 'FieldValueInvalid', field: 'spec.revision', message: 'Invalid value: "Bad": must be a DNS label' }]);
    // The message already names the cause: it is not repeated.
    expect(apiErrorMessage(err)).to.equal(
      '422 Invalid: MeshRevision.meshrev.io "canary" is invalid: spec.revision: Invalid value: "Bad": must be a DNS label',
    );
  });

  it('appends causes the message does not already state', () => {
    const err = apiError(422, {
      reason: 'Invalid',
      message: 'MeshRevision.meshrev.io "canary" is invalid',
      details: { causes: [{ field: 'spec.tags[0]', message: 'duplicate tag' }] },
    });
    expect(apiErrorMessage(err)).to.equal('422 Invalid: MeshRevision.meshrev.io "canary" is invalid (spec.tags[0]: duplicate tag)');
  });

  it('treats 429, 5xx, timeouts and network failures as transient', () => {
    expect(isTransient(apiError(429, { reason: 'TooManyRequests', message: 'slow down', details: { retryAfterSeconds: 3 } }))).to.be.true;
    expect(classifyError(apiError(429, { reason: 'TooManyRequests', message: 'x', details: { retryAfterSeconds: 3 } })).retryAfterSeconds).to.equal(3);
    expect(isTransient(apiError(500, { reason: 'InternalError', message: 'etcdserver: request timed out' }))).to.be.true;
    expect(isTransient(apiError(503, { reason: 'ServiceUnavailable', message: 'x' }))).to.be.true;
    expect(isTransient(apiError(504, { reason: 'Timeout', message: 'x' }))).to.be.true;
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }) });
    expect(isTransient(refused)).to.be.true;
    expect(apiErrorMessage(refused)).to.equal('fetch failed (ECONNREFUSED)');
    expect(isTransient(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).to.be.true;
  });

  it('does not call a bad request or an unknown error transient', () => {
    expect(classifyError(apiError(400, { reason: 'BadRequest', message: 'x' }))).to.include({ kind: 'badRequest', transient: false });
    expect(classifyError(new Error('bug'))).to.include({ kind: 'unknown', transient: false, message: 'bug' });
  });

  it('reports the HTTP code alone when the body is not a Status', () => {
    const err = new ApiException(502, 'Unknown API Status Code!', '<html>bad gateway</html>', {});
    expect(apiErrorMessage(err)).to.equal('502: HTTP 502');
    expect(isTransient(err)).to.be.true;
  });
});
