import { expect } from 'chai';
import { compareQuantities, parseQuantity, resourceQuantityError, type Quantity } from '../../../src/injector/quantity.js';

function q(text: string): Quantity {
  const p = parseQuantity(text);
  if ('error' in p) throw new Error(`${text}: ${p.error}`);
  return p.quantity;
}

describe('sidecar injector: Kubernetes quantities', function () {
  it('accepts the forms Kubernetes accepts', function () {
    for (const ok of ['0', '1', '100m', '0.5', '.5', '1.', '2000m', '128Mi', '1Gi', '5Gi', '1Ki', '1Ei', '1k', '1M', '1G', '1T', '1P', '1E', '1e3', '1E-3', '1e+2', '+1', '250u', '10n']) {
      expect(resourceQuantityError(ok), ok).to.equal(undefined);
    }
  });

  it('rejects what Kubernetes rejects, saying why', function () {
    expect(resourceQuantityError('abc')).to.contain('not a Kubernetes quantity');
    expect(resourceQuantityError('')).to.equal('it is empty');
    expect(resourceQuantityError('1 Gi')).to.contain('whitespace');
    for (const bad of ['1GB', '1gi', 'Mi', '1.2.3', '1e', '--1', '1Mii', '0x10', '1,5']) {
      expect(resourceQuantityError(bad), bad).to.be.a('string');
    }
  });

  it('rejects negative resource quantities', function () {
    expect(resourceQuantityError('-1')).to.contain('negative');
    expect(resourceQuantityError('-100m')).to.contain('negative');
  });

  it('rejects absurd exponents instead of building huge numbers', function () {
    expect(resourceQuantityError('1e999999999')).to.contain('out of range');
  });

  it('compares exactly across suffixes', function () {
    expect(compareQuantities(q('1'), q('1000m'))).to.equal(0);
    expect(compareQuantities(q('0.1'), q('100m'))).to.equal(0);
    expect(compareQuantities(q('1Gi'), q('1073741824'))).to.equal(0);
    expect(compareQuantities(q('1Gi'), q('1G'))).to.equal(1);
    expect(compareQuantities(q('200m'), q('2'))).to.equal(-1);
    expect(compareQuantities(q('1e3'), q('1k'))).to.equal(0);
    expect(compareQuantities(q('5Gi'), q('5120Mi'))).to.equal(0);
    expect(compareQuantities(q('1n'), q('0'))).to.equal(1);
  });
});
