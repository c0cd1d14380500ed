import { describe, expect, it } from 'vitest';
import { durationProblem, formatDuration, parseDuration } from '../../core/duration.js';

describe('parseDuration', () => {
  it('reads numbers as milliseconds and strings with units', () => {
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration(' 40 ')).toBe(40);
    expect(parseDuration('0')).toBe(0);
  });

  it('returns undefined for what is not a duration', () => {
    for (const bad of ['', 'fast', '10 sec', '-5s', '1e3', 's']) expect(parseDuration(bad)).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.NaN)).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  it('says what is wrong with what is not a duration: the format, the sign or the length', () => {
    const format = 'expected milliseconds or a number with a unit (ms, s, m, h), such as 500ms, 30s, 2m';
    for (const bad of ['10x', '30 seconds', '', '1e3', 's', '+5s', '--1s', Number.NaN, true, null, {}]) expect(durationProblem(bad)).toBe(format);
    for (const bad of ['-1s', ' -0.5m', '-3', -1, Number.NEGATIVE_INFINITY]) expect(durationProblem(bad)).toBe('a duration cannot be negative');
    for (const bad of ['200h', 7 * 86_400_000 + 1, Number.POSITIVE_INFINITY]) expect(durationProblem(bad)).toBe('expected a duration of at most 7 days');
    for (const good of ['500ms', '30s', 0, '168h']) expect(durationProblem(good)).toBeUndefined();
  });

  it('formats durations for people', () => {
    expect(formatDuration(120_000)).toBe('2m');
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(12.3456)).toBe('12.346ms');
  });
});
