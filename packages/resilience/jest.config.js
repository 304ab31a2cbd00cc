// Each file boots a whole system (real processes on loopback), so files run one at a time and get
// more time than a unit test; every load and wait inside is bounded.
module.exports = { ...require('../../jest.preset.js'), maxWorkers: 1, testTimeout: 120000 };
