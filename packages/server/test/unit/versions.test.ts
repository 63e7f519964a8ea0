import { compareVersions, highestVersion } from '../../src/models/versions.js';

describe('compareVersions', () => {
  it('orders numbered versions by value, part by part, not as text', () => {
    const sorted = ['10.0', '1.10', '2', '1.2', '1.0', '1', '9.1', '2.0.1'].sort(compareVersions);
    expect(sorted).toEqual(['1', '1.0', '1.2', '1.10', '2', '2.0.1', '9.1', '10.0']);
  });

  it('is a total order on any names: numbers above text in the same place, text by code point', () => {
    expect(compareVersions('v2', 'v10')).toBeGreaterThan(0);
    expect(compareVersions('1.0-beta', '1.0-1')).toBeLessThan(0);
    expect(compareVersions('2024-01-15', '2024-02-01')).toBeLessThan(0);
    expect(compareVersions('1.0', '1.0')).toBe(0);
    for (const [a, b] of [['a', 'b'], ['1.x', '1.2'], ['3', 'x']]) {
      expect(Math.sign(compareVersions(a!, b!))).toBe(-Math.sign(compareVersions(b!, a!)));
    }
  });

  it('picks the highest of several, whatever order they come in', () => {
    expect(highestVersion(['2.0', '10.0', '9.1'])).toBe('10.0');
    expect(highestVersion(['10.0', '9.1', '2.0'])).toBe('10.0');
    expect(highestVersion([])).toBeUndefined();
  });
});
