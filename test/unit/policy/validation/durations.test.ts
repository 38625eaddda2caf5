import { expect } from 'chai';
import { parseDuration, validateMigrationSpec } from '../../../../src/policy/validation/index.js';

describe('parseDuration', () => {
  const table: [string, number | undefined][] = [
    ['0s', 0],
    ['30s', 30_000],
    ['500ms', 500],
    ['2.5s', 2500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1h30m15s250ms', 5_415_250],
    ['1.5h', 5_400_000],
    ['90m', 5_400_000],
    ['1m1m', 120_000],
    ['0.4ms', 0],
    ['', undefined],
    ['indefinite', undefined],
    ['30', undefined],
    ['s', undefined],
    ['-5s', undefined],
    ['+5s', undefined],
    ['.5s', undefined],
    ['5.s', undefined],
    ['1d', undefined],
    ['10us', undefined],
    ['5 m', undefined],
    [' 5m', undefined],
    ['5M', undefined],
    ['1h30', undefined],
  ];
  for (const [text, ms] of table) {
    it(`${JSON.stringify(text)} → ${ms === undefined ? 'undefined' : `${ms}ms`}`, () => {
      expect(parseDuration(text)).to.equal(ms);
    });
  }

  it('accepts exactly the pauses validation accepts, apart from "indefinite"', () => {
    for (const [text, ms] of table) {
      if (text === '') continue;
      const errors = validateMigrationSpec({ from: ['1-20'], steps: [{ percent: 100, pause: text }] });
      expect(errors.length === 0, text).to.equal(ms !== undefined || text === 'indefinite');
    }
  });
});
