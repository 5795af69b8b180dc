import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { InvalidInputError } from '../errors.ts';

/**
 * Registration-time check of a webhook URL: http(s) only, no user:password@, and no literal
 * loopback, private, link-local or metadata address unless private delivery is allowed. Host
 * names are checked again at every delivery, on the address actually resolved (see send-webhook.ts).
 */
export function validateWebhookUrl(raw: string, options: { allowPrivate: boolean }): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidInputError(`url is not a valid URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidInputError(`url must use http or https, not ${url.protocol.slice(0, -1)}`);
  }
  // Credentials in the URL would be stored in clear and shown in every listing of the endpoint.
  if (url.username !== '' || url.password !== '') {
    throw new InvalidInputError(
      'url must not contain credentials (user:password@); put a secret in the URL path or query, or verify our signature instead',
    );
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowPrivate && net.isIP(host) && !isPublicAddress(host)) {
    throw new InvalidInputError(
      `url points to a private, loopback, link-local or reserved address (${host}); such targets are refused unless WEBHOOK_ALLOW_PRIVATE=true`,
    );
  }
  return url.toString();
}

/** The same rule the delivery agent applies: only global unicast addresses are public. */
export function isPublicAddress(address: string): boolean {
  try {
    return ipaddr.process(address).range() === 'unicast';
  } catch {
    return false;
  }
}
