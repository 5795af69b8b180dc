import type { Browser } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, launchBrowser, openConsole, saveScreenshot, signIn, unexpectedProblems, type ConsolePage } from './helpers/browser.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

// The Webhooks and Products pages in a real Chromium against the real service; webhooks go to a
// real receiver on loopback (WEBHOOK_ALLOW_PRIVATE).

let service: TestService;
let receiver: WebhookReceiver;
let browser: Browser;

beforeAll(async () => {
  [service, receiver] = await Promise.all([startTestService({ WEBHOOK_ALLOW_PRIVATE: 'true' }), startWebhookReceiver()]);
  if (chromiumPath) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await service?.stop();
});

async function openPage(key: string, hash: string, viewport?: { width: number; height: number }): Promise<ConsolePage> {
  const page = await openConsole(browser, service.url, viewport);
  await signIn(page, key);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: hash }).click();
  await page.getByRole('heading', { level: 1, name: hash }).waitFor();
  return page;
}

describe.skipIf(!chromiumPath)('the console: Webhooks', () => {
  it('adds an endpoint (secret shown once), sends a signed test event, shows its attempt, redelivers, disables', async () => {
    const { key } = await service.createTenant('webhooks');
    const page = await openPage(key, 'Webhooks');
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: service.url });
    const url = `${receiver.url}/hooks/console`;
    receiver.reply([], 200); // 200 with a body ("ok"): the response excerpt has something to show

    await page.getByLabel('Endpoint URL').fill(url);
    await page.getByLabel('Description (optional)').fill('From the console test');
    await page.getByRole('checkbox', { name: /Source schema drift/ }).check();
    await page.getByRole('checkbox', { name: /Import cancelled/ }).uncheck();
    await page.getByRole('button', { name: 'Add endpoint' }).click();

    // The secret, once, with the warning and a working copy button.
    const secretBox = page.getByRole('textbox', { name: 'Signing secret', exact: true });
    await secretBox.waitFor();
    const secret = await secretBox.inputValue();
    expect(secret).toMatch(/^whsec_/);
    await expect.poll(() => page.getByRole('region', { name: /Signing secret for/ }).textContent()).toContain('it will not be shown again');
    await page.getByRole('button', { name: 'Copy secret' }).click();
    await expect.poll(() => page.evaluate('navigator.clipboard.readText()')).toBe(secret);

    // What the page sent is what the API stored.
    const [stored] = (await readJson(await service.request('/v1/webhooks', { key }))).items;
    expect(stored).toMatchObject({ url, description: 'From the console test', events: ['import.succeeded', 'import.failed', 'source.schema_drift'] });

    // Away and back: the secret is gone for good (not in the page, not in storage).
    await page.getByRole('link', { name: 'Products' }).click();
    await page.getByRole('heading', { level: 1, name: 'Products' }).waitFor();
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('button', { name: `Manage ${url}` }).waitFor();
    expect(await page.getByRole('textbox', { name: 'Signing secret', exact: true }).count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
    expect(await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }))).not.toContain(secret);

    // A test event: delivered, signed with that secret, and shown with its attempt.
    await page.getByRole('button', { name: `Manage ${url}` }).click();
    await page.getByRole('button', { name: 'Send test event' }).click();
    await receiver.waitForRequests(1);
    const [request] = receiver.received;
    expect(request!.path).toBe('/hooks/console');
    const event = new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>) as { type: string; id: string };
    expect(event.type).toBe('webhook.test');
    const delivery = page.getByRole('article', { name: /webhook\.test/ });
    await expect.poll(() => delivery.textContent(), { timeout: 15_000 }).toContain('succeeded');
    const attempts = delivery.getByRole('table', { name: /Attempts of webhook\.test/ });
    await expect.poll(() => attempts.getByRole('row').count()).toBe(2);
    expect(await attempts.getByRole('cell').nth(1).textContent()).toBe('200'); // status code
    expect(await attempts.getByRole('cell').nth(3).textContent()).toBe('ok'); // the receiver's response
    expect(await delivery.textContent()).toContain(event.id);
    await expect.poll(() => page.locator('#announcer').textContent()).toContain('Delivery of webhook.test succeeded (HTTP 200)');
    await saveScreenshot(page, 'console-webhooks');

    // Redeliver: the same event id again, and a second attempt in the log.
    await page.getByRole('button', { name: `Redeliver webhook.test ${event.id}` }).click();
    await receiver.waitForRequests(2);
    expect(receiver.received[1]!.headers['webhook-id']).toBe(event.id);
    await expect.poll(() => attempts.getByRole('row').count(), { timeout: 15_000 }).toBe(3);

    // The same log at 360 px wide.
    const narrow = await openPage(key, 'Webhooks', { width: 360, height: 800 });
    await narrow.getByRole('button', { name: `Manage ${url}` }).click();
    await narrow.getByRole('article', { name: /webhook\.test/ }).waitFor();
    await saveScreenshot(narrow, 'console-webhooks-360');
    expect(Number(await narrow.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(360); // no sideways scrolling of the page
    expect(unexpectedProblems(narrow)).toEqual([]);
    await narrow.context().close();

    // Disable: shown disabled with the reason, in the list and in the panel; no test event then.
    await page.getByRole('button', { name: 'Disable endpoint' }).click();
    await page.getByRole('button', { name: 'Enable endpoint' }).waitFor();
    const row = page.getByRole('row', { name: new RegExp(url.replaceAll('.', '\\.')) });
    expect(await row.textContent()).toContain('disabled');
    expect(await row.textContent()).toContain('disabled through the API');
    expect(await page.getByRole('button', { name: 'Send test event' }).isDisabled()).toBe(true);
    expect((await readJson(await service.request(`/v1/webhooks/${stored.id}`, { key }))).enabled).toBe(false);

    expect(unexpectedProblems(page)).toEqual([]);
    await page.context().close();
  });

  it('shows the API’s validation message for a URL it refuses', async () => {
    const { key } = await service.createTenant('webhooks-bad');
    const page = await openPage(key, 'Webhooks');
    await page.getByLabel('Endpoint URL').fill('ftp://x');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.textContent()).toContain('url must use http or https, not ftp');
    expect(await alert.textContent()).toMatch(/validation_failed, request \S+/);
    expect(await page.getByRole('textbox', { name: 'Signing secret', exact: true }).count()).toBe(0);
    expect((await readJson(await service.request('/v1/webhooks', { key }))).items).toEqual([]);
    expect(unexpectedProblems(page, [/400 \(Bad Request\)/])).toEqual([]);
    await page.context().close();
  });
});

describe.skipIf(!chromiumPath)('the console: Products', () => {
  it('searches by sku prefix and by name, and pages through the results', async () => {
    const { key } = await service.createTenant('products');
    const tees = Array.from({ length: 55 }, (_, i) => `TEE-${String(i + 1).padStart(3, '0')},Cotton tee ${i + 1},12.50,EUR,${i}`);
    const csv = ['sku,name,price,currency,quantity,status', ...tees.map((t) => `${t},active`), 'MUG-1,Coffee MUG large,8.00,USD,3,inactive', 'MUG-2,Tea mug,7.00,USD,4,active', 'TEA-1,Green tea,4.00,EUR,10,archived'].join('\n');
    const upload = await service.uploadCsv(key, csv);
    expect(upload.status).toBe(202);
    expect((await service.waitForImport(key, (await readJson(upload)).id)).status).toBe('succeeded');

    const page = await openPage(key, 'Products');
    const table = page.getByRole('table');
    const skus = () => table.locator('tbody tr td:first-child').allTextContents();
    // Everything, by sku: a first page of 50.
    await expect.poll(() => table.getByRole('row').count()).toBe(51);
    expect((await skus())[0]).toBe('MUG-1');

    // A sku prefix: 55 tees over two pages.
    await page.getByLabel('SKU starts with').fill('TEE-');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(async () => (await skus())[0]).toBe('TEE-001');
    expect(await table.getByRole('row').count()).toBe(51);
    await saveScreenshot(page, 'console-products');
    await page.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(skus).toEqual(['TEE-051', 'TEE-052', 'TEE-053', 'TEE-054', 'TEE-055']);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await expect.poll(() => page.locator('#announcer').textContent()).toBe('Page 2: 5 products');
    await page.getByRole('button', { name: 'Previous page' }).click();
    await expect.poll(async () => (await skus())[0]).toBe('TEE-001');

    // A name, in any case, with the prefix cleared; then both.
    await page.getByLabel('SKU starts with').fill('');
    await page.getByLabel('Name contains').fill('mug');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(skus).toEqual(['MUG-1', 'MUG-2']);
    const first = await table.getByRole('row').nth(1).textContent();
    for (const shown of ['Coffee MUG large', '8.00', 'USD', '3', 'inactive']) expect(first).toContain(shown);
    await page.getByLabel('SKU starts with').fill('TE');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.getByText('No products match this search.').count()).toBe(1); // no mug in TE*
    expect(await table.count()).toBe(0);

    // A prefix the API refuses: its message, code and request id.
    await page.getByLabel('Name contains').fill('');
    await page.getByLabel('SKU starts with').fill('TEE 1');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/sku_prefix must be .*\(validation_failed, request \S+\)/);

    const narrow = await openPage(key, 'Products', { width: 360, height: 800 });
    await narrow.getByRole('table').waitFor();
    await saveScreenshot(narrow, 'console-products-360');
    expect(Number(await narrow.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(360);
    expect(unexpectedProblems(narrow)).toEqual([]);
    await narrow.context().close();

    expect(unexpectedProblems(page, [/400 \(Bad Request\)/])).toEqual([]);
    await page.context().close();
  });
});
