import type { Command } from 'commander';
import { cell, clientOf, collectPages, positiveInteger, printJson, printTable } from './output.ts';

const EVENTS = ['import.succeeded', 'import.failed', 'import.cancelled', 'source.schema_drift'];

// biome-ignore lint/suspicious/noExplicitAny: API bodies as /openapi.json describes them (WebhookEndpoint, WebhookDelivery)
type View = Record<string, any>;

export function registerWebhooksCommands(program: Command): void {
  const webhooks = program
    .command('webhooks')
    .description('Completion webhooks: register endpoints, send a test event, read the delivery log')
    .addHelpText(
      'after',
      '\nExamples:\n  lading webhooks add https://ops.example.com/hooks/lading --events import.failed,source.schema_drift\n  lading webhooks test 5d2a…\n  lading webhooks deliveries 5d2a… --status failed',
    );

  webhooks
    .command('list')
    .description("Your tenant's webhook endpoints (a disabled one says why)")
    .option('--json', 'print {items} as JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const page = (await clientOf(command).json('/v1/webhooks')) as { items: View[] };
      if (options.json) return printJson(page);
      if (page.items.length === 0) {
        process.stdout.write('No webhook endpoints.\n');
        return;
      }
      printTable(
        ['ID', 'STATE', 'EVENTS', 'CREATED', 'URL', 'DESCRIPTION'],
        page.items.map((endpoint) => [
          endpoint.id,
          endpoint.enabled ? 'enabled' : `disabled (${endpoint.disabled_reason ?? 'by hand'})`,
          endpoint.events.join(','),
          endpoint.created_at,
          endpoint.url,
          cell(endpoint.description),
        ]),
      );
    });

  webhooks
    .command('add')
    .description('Register an endpoint; prints its signing secret, which is shown only this once')
    .argument('<url>', 'the http(s) URL to POST events to')
    .option('--events <list>', `comma-separated events to send (of ${EVENTS.join(', ')}; default: the three import events)`)
    .option('--description <text>', 'a note shown in listings')
    .option('--json', 'print the endpoint with its secret as JSON')
    .action(async (url: string, options: { events?: string; description?: string; json?: boolean }, command: Command) => {
      const events = options.events
        ?.split(',')
        .map((event) => event.trim())
        .filter(Boolean);
      const endpoint = (await clientOf(command).json('/v1/webhooks', {
        method: 'POST',
        body: { url, events, description: options.description },
      })) as View;
      if (options.json) return printJson(endpoint);
      process.stdout.write(`Registered webhook ${endpoint.id} → ${endpoint.url} (${endpoint.events.join(', ')}).\n`);
      process.stderr.write('Store the signing secret now: it cannot be shown again.\n');
      process.stdout.write(`${endpoint.secret}\n`);
    });

  webhooks
    .command('test')
    .description('Queue a webhook.test event to an endpoint (see it arrive with `webhooks deliveries`)')
    .argument('<id>', 'the endpoint id')
    .option('--json', 'print the queued delivery as JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const delivery = (await clientOf(command).json(`/v1/webhooks/${encodeURIComponent(id)}/test`, { method: 'POST' })) as View;
      if (options.json) return printJson(delivery);
      process.stdout.write(`Queued ${delivery.event_type} delivery ${delivery.id} (event ${delivery.event_id}).\n`);
    });

  webhooks
    .command('deliveries')
    .description("An endpoint's delivery log, newest first, each delivery with its attempts")
    .argument('<id>', 'the endpoint id')
    .option('--status <status>', 'only deliveries with this status (pending, succeeded, failed)')
    .option('--limit <n>', 'show at most this many deliveries (default: 20); with --all, how many per request', positiveInteger)
    .option('--all', 'show every delivery (follows the pages to the end)')
    .option('--json', 'print {items, next_cursor} as JSON')
    .action(async (id: string, options: { status?: string; limit?: number; all?: boolean; json?: boolean }, command: Command) => {
      const page = await collectPages<View>(
        clientOf(command),
        `/v1/webhooks/${encodeURIComponent(id)}/deliveries`,
        { status: options.status },
        { limit: options.limit, all: Boolean(options.all), pageMax: 100 },
      );
      if (options.json) return printJson(page);
      if (page.items.length === 0) {
        process.stdout.write('No deliveries.\n');
        return;
      }
      const rows: string[][] = [];
      for (const delivery of page.items) {
        rows.push([delivery.id, delivery.event_type, delivery.status, String(delivery.attempt_count), delivery.created_at, cell(delivery.last_error)]);
        for (const attempt of delivery.attempts as View[]) {
          const answer = attempt.status_code === null ? 'no answer' : `HTTP ${attempt.status_code}`;
          rows.push(['  attempt', '', answer, `${attempt.duration_ms} ms`, attempt.attempted_at, cell(attempt.error)]);
        }
      }
      printTable(['DELIVERY', 'EVENT', 'STATUS', 'ATTEMPTS', 'CREATED', 'LAST ERROR'], rows);
      if (page.next_cursor) process.stdout.write('More deliveries: raise --limit or pass --all.\n');
    });
}
