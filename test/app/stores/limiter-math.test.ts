import { dayWindow, monthWindow, periodLabels, windowOf } from '../../../app/stores/limiter-math';

describe('period windows', () => {
  // The last and first millisecond of a day, of a month, of a year, and of a leap day.
  const instants = ['2031-05-15T12:00:00.000Z', '2031-05-31T23:59:59.999Z', '2031-06-01T00:00:00.000Z', '2031-12-31T23:59:59.999Z', '2032-01-01T00:00:00.000Z', '2032-02-29T08:00:00.000Z'];

  it.each(instants)('labels the UTC day and month of %s as the windows do', (iso) => {
    const nowMs = Date.parse(iso);
    expect(periodLabels(nowMs)).toEqual({ day: dayWindow(nowMs).label, month: monthWindow(nowMs).label });
    expect(periodLabels(nowMs)).toEqual({ day: iso.slice(0, 10), month: iso.slice(0, 7) });
  });

  it.each(instants)('windowOf(label) is the window that holds %s', (iso) => {
    const nowMs = Date.parse(iso);
    const { day, month } = periodLabels(nowMs);
    expect(windowOf(day, nowMs)).toEqual(dayWindow(nowMs));
    expect(windowOf(month, nowMs)).toEqual(monthWindow(nowMs));
    expect(windowOf(day, nowMs).start.getTime()).toBeLessThanOrEqual(nowMs);
    expect(windowOf(day, nowMs).end.getTime()).toBeGreaterThan(nowMs);
  });
});
