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

describe('parseDuration: durations too long to count in ms', () => {
  const huge: [string, number | undefined][] = [
    ['2000000000h', 7_200_000_000_000_000],
    ['2501999792h', 9_007_199_251_200_000],
    ['3000000000h', undefined],
    ['2501999793h', undefined],
    [`${'9'.repeat(400)}h`, undefined],
    [`1${'0'.repeat(400)}ms`, undefined],
    [`0.${'9'.repeat(400)}s`, 1000],
  ];
  for (const [text, ms] of huge) {
    it(`${text.length > 24 ? `${text.slice(0, 12)}…(${text.length} characters)` : JSON.stringify(text)} → ${ms === undefined ? 'undefined' : `${ms}ms`}`, () => {
      expect(parseDuration(text)).to.equal(ms);
    });
  }

  it('returns only safe, finite integers', () => {
    for (const [text] of huge) {
      const ms = parseDuration(text);
      if (ms !== undefined) expect(Number.isSafeInteger(ms), text).to.equal(true);
    }
  });

  it('a pause it cannot count is a validation error naming the field and the limit, never "no pause"', () => {
    const errors = validateMigrationSpec({ from: ['1-20'], steps: [{ percent: 100, pause: '3000000000h' }] });
    expect(errors.map((e) => e.field)).to.deep.equal(['spec.migration.steps[0].pause']);
    expect(errors[0]!.message).to.contain('at most 720h');
  });
});
