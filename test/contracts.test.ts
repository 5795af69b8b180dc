import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { ERROR_STATUS } from '../src/http/errors.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

// Contracts have one owner each; these checks fail when a second one appears or the document drifts.

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service?.stop());

describe('error codes', () => {
  it('/openapi.json lists every error code the API can answer with, as the Error schema enum', async () => {
    const doc = await readJson(await service.request('/openapi.json'));
    const code = doc.components.schemas.Error.properties.error.properties.code;
    expect(code.enum).toEqual(Object.keys(ERROR_STATUS));
  });
});

describe('layering', () => {
  it('no domain folder imports from src/http: domain code throws domain errors', async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles('src')) {
      // src/*.ts (main, start-service) put the service together; every folder but http is domain code.
      if (path.dirname(file) === 'src' || file.startsWith(`src${path.sep}http${path.sep}`)) continue;
      const text = await readFile(file, 'utf8');
      for (const [, target] of text.matchAll(/from '([^']+)'/g)) {
        const resolved = path.join(path.dirname(file), target!);
        if (target!.startsWith('.') && resolved.startsWith(`src${path.sep}http${path.sep}`)) offenders.push(`${file} → ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('metrics', () => {
  it('every lading_ metric /metrics exposes is defined in src/metrics/metrics.ts, and only there', async () => {
    const defined = [...(await readFile('src/metrics/metrics.ts', 'utf8')).matchAll(/name: '(lading_\w+)'/g)].map((m) => m[1]);
    const text = await (await service.request('/metrics')).text();
    const exposed = [...text.matchAll(/^# HELP (lading_\w+) /gm)].map((m) => m[1]);
    expect(exposed.sort()).toEqual([...defined].sort());
    // Nothing outside src/metrics/ creates a metric: only it uses prom-client.
    const elsewhere: string[] = [];
    for (const file of await sourceFiles('src')) {
      if (!file.startsWith(`src${path.sep}metrics${path.sep}`) && (await readFile(file, 'utf8')).includes("from 'prom-client'")) elsewhere.push(file);
    }
    expect(elsewhere).toEqual([]);
  });
});

describe('configuration names', () => {
  it('MAX_RECORD_SIZE sets the longest record; MAX_FIELD_SIZE, its earlier name, is still read', () => {
    expect(loadConfig({}).limits.maxRecordSize).toBe(1024 ** 2);
    expect(loadConfig({ MAX_FIELD_SIZE: '2048' }).limits.maxRecordSize).toBe(2048);
    expect(loadConfig({ MAX_RECORD_SIZE: '4096', MAX_FIELD_SIZE: '2048' }).limits.maxRecordSize).toBe(4096);
  });
});

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.join(e.parentPath, e.name));
}
