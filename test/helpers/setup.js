'use strict';
// Every test must check something: a test that reaches its end without one expect() fails
// (a test that cannot run here is reported as skipped instead, never as passed).
beforeEach(() => {
  expect.hasAssertions();
});
