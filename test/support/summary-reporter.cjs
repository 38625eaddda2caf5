'use strict';
// Mocha's spec reporter for people, plus a machine-readable summary file that
// .ci/run adds up into its closing "N passed, N failed, N skipped" line.
// CommonJS because mocha loads reporters with require().
const fs = require('node:fs');
const path = require('node:path');
const Mocha = require('mocha');

const { EVENT_RUN_END, EVENT_TEST_FAIL } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const file = (options.reporterOptions || options.reporterOption || {}).summary;
    const failed = [];
    runner.on(EVENT_TEST_FAIL, (test, err) => {
      failed.push({ title: test.fullTitle(), error: String(err && err.message) });
    });
    runner.once(EVENT_RUN_END, () => {
      if (!file) return;
      const s = runner.stats || {};
      const summary = {
        passed: s.passes || 0,
        // a failed hook counts as a failure; tests it prevented are not "passed"
        failed: s.failures || 0,
        skipped: s.pending || 0,
        failures: failed,
      };
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify(summary, null, 2) + '\n');
    });
  }
}

module.exports = SummaryReporter;
