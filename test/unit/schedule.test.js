'use strict';
// observe()'s schedule (lib/observe/schedule.ts) against a model, over 120 seeded random sequences of
// push, remove and takeDue: a wake-up takes exactly the items due by its time (none early, none
// left behind), each once; an item removed is never taken; the earliest due time it reports is
// never later than the true earliest, and less than a bucket's width before it (so a wake-up there
// always finds something due).
const { Clock, Schedule, windowOf, JITTER_MIN } = require('../../dist/modules/observe/schedule.js');

// A small deterministic generator, so a failure names its seed.
const random = require('../helpers/random').mulberry32;

test('120 seeded sequences of 200 operations: exactly the due items, each once; removed ones never', () => {
  for (let seed = 1; seed <= 120; seed++) {
    const rand = random(seed);
    const width = 1 + Math.floor(rand() * 50);
    const schedule = new Schedule(width);
    const model = new Set();
    let now = 1000;
    for (let op = 0; op < 200; op++) {
      const r = rand();
      if (r < 0.5) {
        const item = { next: now + rand() * 400, bucket: 0, index: -1, id: `${seed}.${op}` };
        schedule.push(item);
        model.add(item);
      } else if (r < 0.7 && model.size > 0) {
        const items = [...model];
        const item = items[Math.floor(rand() * items.length)];
        schedule.remove(item);
        schedule.remove(item); // twice: a no-op
        model.delete(item);
        expect(item.index).toBe(-1);
      } else {
        now += rand() * 100;
        const until = now + rand() * width;
        const taken = [];
        schedule.takeDue(until, (item) => taken.push(item));
        const due = [...model].filter((i) => i.next <= until);
        expect({ seed, op, taken: taken.map((i) => i.id).sort() }).toEqual({ seed, op, taken: due.map((i) => i.id).sort() });
        for (const item of due) model.delete(item);
        for (const item of taken) expect(item.index).toBe(-1);
      }
      expect(schedule.size).toBe(model.size);
      const min = Math.min(...[...model].map((i) => i.next));
      const earliest = schedule.earliest();
      if (model.size === 0) expect(earliest).toBe(Infinity);
      else {
        expect(earliest).toBeLessThanOrEqual(min);
        expect(earliest).toBeGreaterThan(min - width);
      }
    }
    schedule.clear();
    expect(schedule.size).toBe(0);
    for (const item of model) expect(item.index).toBe(-1);
  }
});

test('the wake-up window: a tenth of the interval up to a second, at least 40 ms (a quarter below 160 ms); waits centred on it', () => {
  expect(windowOf(10000)).toBe(1000);
  expect(windowOf(300000)).toBe(1000);
  expect(windowOf(400)).toBe(40);
  expect(windowOf(100)).toBe(25);
  expect(windowOf(1)).toBe(0.25);
  expect(JITTER_MIN + 0.5).toBe(1); // each wait is interval x [0.5, 1.5): mean 1
});

test("an observer's clock: whole milliseconds from its start; waits whole, within [0.5, 1.5) x the interval, their mean the interval; a window of at least 1 ms", () => {
  for (const interval of [1, 3, 7, 1000, 2147483647]) {
    const made = Date.now();
    const clock = new Clock(interval);
    const waits = Array.from({ length: 4000 }, () => clock.wait());
    for (const wait of waits) {
      expect(Number.isInteger(wait)).toBe(true);
      expect(wait).toBeGreaterThanOrEqual(Math.round(interval * JITTER_MIN));
      expect(wait).toBeLessThanOrEqual(Math.round(interval * (JITTER_MIN + 1)));
    }
    const mean = waits.reduce((a, b) => a + b, 0) / waits.length;
    // Rounding a uniform draw is unbiased: the mean stays the interval (4000 draws: within 3 %).
    expect({ interval, mean: Math.abs(mean / interval - 1) < 0.03 }).toEqual({ interval, mean: true });
    expect(clock.window).toBe(Math.max(1, Math.round(windowOf(interval))));
    expect(clock.shortestWait).toBe(Math.round(interval * JITTER_MIN));
    // Whole milliseconds since it was made: never more than have passed since (no bound on how
    // long that is: under qemu-user these 4,000 draws take over a second).
    const now = clock.now();
    expect({ whole: Number.isInteger(now), inRange: now >= 0 && now <= Date.now() - made }).toEqual({ whole: true, inRange: true });
  }
});
