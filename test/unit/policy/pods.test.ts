import type { V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { isLivePod } from '../../../src/policy/pods.js';

describe('isLivePod', () => {
  const rows: [string, V1Pod, boolean][] = [
    ['counts a running pod', { metadata: { name: 'a' }, status: { phase: 'Running' } }, true],
    ['counts a pending pod and one with no status yet', { metadata: { name: 'a' } }, true],
    ['leaves out a pod that Succeeded', { metadata: { name: 'a' }, status: { phase: 'Succeeded' } }, false],
    ['leaves out a pod that Failed', { metadata: { name: 'a' }, status: { phase: 'Failed' } }, false],
    ['leaves out a terminating pod', { metadata: { name: 'a', deletionTimestamp: new Date(0) }, status: { phase: 'Running' } }, false],
  ];
  for (const [name, pod, want] of rows) it(name, () => expect(isLivePod(pod)).to.equal(want));
});
