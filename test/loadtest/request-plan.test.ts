import { describe, expect, it } from 'vitest';
import { createRng } from '../../core/rng.js';
import { parseScenario } from '../../core/scenario.js';
import { classify } from '../../core/workload.js';
import { CookieJar, createRequestPlanner } from '../../loadtest/request-plan.js';

const scenario = parseScenario({
  name: 't',
  hosts: [{ name: 'h', cores: 2, memoryMb: 4096 }],
  vms: [{ name: 'web', host: 'h' }],
  workload: {
    sessions: 10,
    classes: [
      { name: 'page', share: 0.8, route: '/', cpuMs: 1 },
      { name: 'upload', share: 0.2, route: '/upload', method: 'post', cpuMs: 2, bodyBytes: 300 },
    ],
  },
});

describe('createRequestPlanner', () => {
  it('draws classes by share and sessions uniformly, with paths the replica classifies back', () => {
    const next = createRequestPlanner(scenario.workload.classes, 10, createRng(1));
    const counts = new Map<string, number>();
    const sessions = new Set<number | undefined>();
    for (let i = 0; i < 5000; i++) {
      const r = next();
      counts.set(r.cls.name, (counts.get(r.cls.name) ?? 0) + 1);
      sessions.add(r.session);
      expect(classify(scenario.workload.classes, r.path.split('?')[0])?.name).toBe(r.cls.name);
      if (r.cls.name === 'upload') {
        expect(r.method).toBe('POST');
        expect(r.body?.length).toBe(300);
      } else expect(r.body).toBeUndefined();
    }
    expect((counts.get('upload') ?? 0) / 5000).toBeGreaterThan(0.17);
    expect((counts.get('upload') ?? 0) / 5000).toBeLessThan(0.23);
    expect([...sessions].sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('replays the same requests for the same seed', () => {
    const a = createRequestPlanner(scenario.workload.classes, 10, createRng(3));
    const b = createRequestPlanner(scenario.workload.classes, 10, createRng(3));
    for (let i = 0; i < 100; i++) expect(a().path).toBe(b().path);
  });

  it('sends no session when the scenario has none', () => {
    const next = createRequestPlanner(scenario.workload.classes, 0, createRng(1));
    expect(next().session).toBeUndefined();
  });
});

describe('CookieJar', () => {
  it('keeps the latest value per cookie name and ignores attributes', () => {
    const jar = new CookieJar();
    expect(jar.header()).toBeUndefined();
    jar.store(['dl_session=abc.web-1.mac; Path=/; HttpOnly', 'other=1']);
    jar.store('dl_session=abc.web-2.mac2; Path=/');
    expect(jar.header()).toBe('dl_session=abc.web-2.mac2; other=1');
  });
});
